//! The orchestrator: runs tasks as ordered, idempotent steps fanned out over
//! nodes. This module holds the machinery every action uses — named retry
//! policies ([`retry`], the only place backoff numbers live), waiting on an
//! observed value with a deadline ([`wait`]), and bounded per-node fan-out
//! with per-step deadlines and cancellation ([`fanout`]).
//!
//! [`engine`] holds the `Orchestrator` (dependencies, configuration, design
//! loading, the site-wide and per-node step runners that write the task
//! tree), `steps` the per-node steps built from driver primitives,
//! `actions` the actions in the original's order (one file each), [`scheduler`] the pure
//! rules for which queued tasks may run side by side, and [`runner`] the
//! loop every process runs: it admits queued tasks under those rules
//! through the store's task leases, so processes sharing a store share
//! the work.

mod actions;
pub mod engine;
pub mod fanout;
pub mod retry;
pub mod runner;
pub mod scheduler;
mod steps;
pub mod wait;

pub use engine::{Dependencies, Orchestrator, OrchestratorConfig, OrchestratorError, SubmitError};

#[cfg(test)]
mod scheduling_tests;
#[cfg(test)]
mod tests;
