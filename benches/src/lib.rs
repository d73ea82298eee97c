//! Shared helpers for the criterion benches (site generation).
