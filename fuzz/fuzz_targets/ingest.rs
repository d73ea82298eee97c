//! Fuzz target: arbitrary bytes through ingestion, compile and validation.
//! Any outcome but a panic (or a hang) is fine.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run ingest -- -max_total_time=600`

#![no_main]

use drydock_core::ingest::Ingester;
use drydock_core::validate::{evaluate, ValidationOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ingested) = Ingester::new().ingest_bytes(data, Some("fuzz")) {
        let _ = evaluate(ingested, &ValidationOptions::default());
    }
});
