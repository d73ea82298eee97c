//! Sites from `shared/tools/gen_site.py` (which the original validates with
//! zero findings) validate with zero errors, and zero warnings when the
//! node driver's catalog offers their image and kernels.

use drydock_core::ingest::EnvelopeMode;
use drydock_core::validate::PlatformCatalog;

use crate::support::{evaluate_bytes, generate_site, summarize};

fn jammy() -> Option<PlatformCatalog> {
    Some(PlatformCatalog::Available(vec![("jammy".into(), vec!["ga-22.04".into(), "hwe-22.04".into()])]))
}

#[test]
fn generated_sites_validate_cleanly() {
    for (nodes, racks) in [(10, 2), (100, 4), (1000, 25), (10000, 250)] {
        let text = generate_site(nodes, racks, 42);
        let evaluation = evaluate_bytes(text.as_bytes(), "generated", EnvelopeMode::Auto, jammy()).expect("loads");
        let summary = summarize(&evaluation.report);
        assert_eq!(summary.status, "Success", "N={nodes}: {summary:?}");
        assert!(summary.errors.is_empty() && summary.warnings.is_empty(), "N={nodes}: {summary:?}");
        assert_eq!(summary.messages, 18, "N={nodes}: one Info per rule");
        let site = evaluation.site.expect("compiled");
        assert_eq!(site.nodes().len(), nodes);
    }
}
