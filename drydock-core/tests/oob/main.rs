//! The OOB drivers against real third-party BMC peers: the IPMI driver
//! against OpenIPMI's `ipmi_sim` (cross-checked with `ipmitool`), the Redfish
//! driver against `sushy-emulator --fake`, and `prepare_nodes` through the
//! orchestrator over a mix of both plus an unreachable BMC. A peer that is
//! not installed skips its tests with a message, unless `CI=true`
//! (scripts/setup/oob.sh installs them).

mod ipmi;
mod mixed;
mod sushy;
