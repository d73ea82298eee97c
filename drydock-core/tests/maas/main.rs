//! The MaaS node driver against drydock-sim's MaaS emulator (real HTTP on
//! loopback): the exact calls of every action, and whole deployments
//! through the orchestrator with faults.

#![allow(unreachable_pub)]

mod actions;
#[path = "../common/mod.rs"]
mod common;
mod e2e;
mod errors;
mod exclusive;
mod relay;
mod support;
