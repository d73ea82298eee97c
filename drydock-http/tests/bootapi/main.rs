//! The boot-action API in-process (poem's test client) and the generated
//! cloud-init agent against a live server on loopback.

mod agent;
mod endpoints;
mod support;
