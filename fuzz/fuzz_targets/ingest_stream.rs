//! Fuzz target: multi-document streams. The input is cut into documents at
//! `0xFF` bytes; each becomes a document with a Drydock envelope of a kind
//! chosen by its first byte (so more inputs reach the per-kind mapping and
//! schemas), and the stream goes through ingestion under small per-stream
//! budgets (so alias expansion and node counting across documents, and the
//! parallel parse of large streams, are exercised), then compile and
//! validation. Any outcome but a panic, a hang or unbounded memory is fine.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run ingest_stream -- -max_total_time=600 -rss_limit_mb=1024`

#![no_main]

use drydock_core::ingest::{Ingester, YamlLimits};
use drydock_core::validate::{evaluate, ValidationOptions};
use libfuzzer_sys::fuzz_target;

const KINDS: &[&str] =
    &["Region", "NetworkLink", "Network", "HardwareProfile", "HostProfile", "BaremetalNode", "Rack", "BootAction"];

fuzz_target!(|data: &[u8]| {
    let mut stream = Vec::with_capacity(data.len() + 64);
    // At most 512 documents: each adds a ~90-byte envelope, and a stream of
    // thousands of them is just slow, not interesting.
    for (index, piece) in data.split(|&byte| byte == 0xFF).take(512).enumerate() {
        let kind = KINDS[piece.first().map_or(0, |&byte| byte as usize) % KINDS.len()];
        stream.extend_from_slice(
            format!("---\nschema: drydock/{kind}/v1\nmetadata:\n  schema: metadata/Document/v1\n  name: doc{index}\ndata:\n").as_bytes(),
        );
        stream.extend_from_slice(piece.get(1..).unwrap_or_default());
        stream.push(b'\n');
    }
    let ingester = Ingester {
        limits: YamlLimits { max_alias_nodes: 20_000, max_nodes: 200_000, ..YamlLimits::default() },
        ..Ingester::new()
    };
    if let Ok(ingested) = ingester.ingest_bytes(&stream, Some("fuzz")) {
        let _ = evaluate(ingested, &ValidationOptions::default());
    }
});
