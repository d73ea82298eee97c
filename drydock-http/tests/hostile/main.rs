//! The hostile-input suite (issue 16): each case an attacker or an unlucky
//! operator found is replayed against a real `drydock serve` process held to
//! a memory ceiling, and the answer is asserted — a 4xx or 503, never an
//! out-of-memory kill, a hang, a lost task or a server that says it is
//! healthy while it is not. After each memory case the server must still
//! serve with resident memory under 300 MiB.

mod http;
mod sources;
mod stores;
mod support;
mod yaml;
