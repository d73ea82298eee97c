//! The orchestrator: runs tasks as ordered, idempotent steps fanned out over
//! nodes. This module holds the machinery every action uses — named retry
//! policies ([`retry`], the only place backoff numbers live), waiting on an
//! observed value with a deadline ([`wait`]), and bounded per-node fan-out
//! with per-step deadlines and cancellation ([`fanout`]).
//!
//! The actions themselves (validate_design … deploy_nodes) and leadership
//! over the store's lease are built on these (issue 5, in progress).

pub mod fanout;
pub mod retry;
pub mod wait;
