//! The boot-action API in-process (poem's test client) and the generated
//! cloud-init agent against a live server on loopback.

mod agent;
#[path = "../api/conformance.rs"]
mod conformance;
mod endpoints;
mod support;
