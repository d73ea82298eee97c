//! Development-only simulators of MaaS 2.0, Redfish and BMCs (no workspace
//! dependencies), so Drydock's drivers, tests, examples and benchmarks run
//! without real hardware.
//!
//! Start a lab with [`SimLab::start`] (binds 127.0.0.1 on a free port and
//! stops when dropped), point the MaaS driver at [`SimLab::maas_url`] with
//! [`SimLab::api_key`], and the Redfish driver at [`SimLab::redfish_urls`].
//! Tests read [`SimLab::requests`] and drive transitions with
//! [`SimLab::step`] in [`SimMode::Explicit`]. The MaaS wire format is
//! written from `shared/spec/drivers.md` §3, never from the driver's types.

#![recursion_limit = "256"]

pub mod boot;
pub mod control;
pub mod external;
pub mod lab;
pub mod maas;
pub mod promenade;
pub mod redfish;
pub mod scenario;
pub mod world;

pub use lab::{LabOptions, SimError, SimLab};
pub use scenario::{PromenadeSeed, Scenario, ScenarioError};
pub use world::{Durations, FaultSpec, RequestRecord, SimMode, World};
