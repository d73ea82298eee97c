//! The compat JSON shapes of the `/api/v1.0` API (compat: api spec §1),
//! converted from core types. The only place these shapes exist.

pub mod bootaction;
pub mod task;
pub mod validation;

/// A timestamp as Python's `str(datetime)` prints an aware UTC datetime
/// (`2026-11-25 01:33:06.465940+00:00`), which the original's payloads use.
pub fn python_timestamp(timestamp: &chrono::DateTime<chrono::Utc>) -> String {
    timestamp.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
}
