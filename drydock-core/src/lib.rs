//! Drydock's domain: the site design (model, ingestion, compile, validation),
//! tasks, the state store, drivers and the orchestrator.
//!
//! This crate knows nothing of HTTP frameworks, wire JSON shapes, clap or pyo3;
//! the front ends (`drydock-http`, `drydock-py`) translate at their boundary.
//! See `ARCHITECTURE.md` at the repository root for the code map and the
//! invariants (the module rank table in particular).

pub mod encode;
pub mod ids;

pub mod model;

pub mod compile;
pub mod ingest;
#[cfg(feature = "runtime")]
pub mod task;

#[cfg(feature = "bootaction")]
pub mod bootaction;
#[cfg(feature = "runtime")]
pub mod drivers;
#[cfg(feature = "runtime")]
pub mod store;
pub mod validate;

#[cfg(feature = "runtime")]
pub mod designs;

pub mod lab;

#[cfg(all(test, feature = "store-redb"))]
mod test_support;

#[cfg(feature = "runtime")]
pub mod orchestrator;
