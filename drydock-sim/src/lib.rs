//! Development-only simulators of MaaS 2.0, Redfish and BMCs (no workspace dependencies).
