//! The compat JSON shapes of the `/api/v1.0` API (compat: api spec §1),
//! converted from core types. The only place these shapes exist.

pub mod bootaction;
pub mod task;
pub mod types;
pub mod validation;
