//! The `/api/v1.0` server. Only the boot-action endpoints live here so far.

pub mod bootactions;
