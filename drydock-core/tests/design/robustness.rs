//! Hostile and broken input gives clear errors or findings naming the
//! document, never a panic: truncated streams, wrong types, missing and
//! cyclic profiles, oversized documents, deep nesting, invalid UTF-8.

use drydock_core::compile::{CompileError, compile};
use drydock_core::ingest::{IngestError, Ingester};
use drydock_core::validate::{ValidationOptions, evaluate};

use crate::support::corpus_dir;

fn evaluate_text(text: &str) -> Result<drydock_core::validate::Evaluation, IngestError> {
    Ok(evaluate(Ingester::new().ingest_str(text, Some("input.yaml"))?, &ValidationOptions::default()))
}

#[test]
fn truncated_streams_never_panic() {
    let text = std::fs::read_to_string(corpus_dir().join("drydock-samples/deckhand_fullsite.yaml")).expect("read");
    let mut errors = 0;
    for cut in (1..text.len()).step_by(37) {
        let Some(prefix) = text.get(..cut) else { continue };
        if evaluate_text(prefix).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0, "some truncations are YAML errors");
}

#[test]
fn wrong_types_are_findings_naming_the_document() {
    let text = "---\nschema: drydock/BaremetalNode/v1\nmetadata: {name: n1}\ndata:\n  addressing: 5\n  oob: {type: [ipmi]}\n";
    let evaluation = evaluate_text(text).expect("loads");
    let findings: Vec<_> = evaluation.report.findings().collect();
    assert!(!findings.is_empty());
    for finding in findings {
        assert_eq!(finding.code, "DD001");
        assert_eq!(finding.documents[0].name, "n1");
        // The line of the map holding the offending value: `addressing` (5) or `oob` (6).
        let line = finding.location.as_ref().map(|l| l.line);
        assert!(matches!(line, Some(5 | 6)), "{finding:?}");
    }
    // Coercion failures after the schema (DD000) name the field and document.
    let text = "---\nschema: drydock/HardwareProfile/v1\nmetadata: {name: hw}\ndata:\n  hugepages: {x: {size: 1G, count: -1}}\n";
    let evaluation = evaluate_text(text).expect("loads");
    let finding = evaluation.report.findings().next().expect("finding");
    assert_eq!(finding.code, "DD000");
    assert!(finding.message.contains("Value must be >= 0 for field count"), "{}", finding.message);
    assert_eq!(finding.documents[0].name, "hw");
}

fn node_and_profiles(profiles: &str) -> String {
    format!(
        "---\nschema: drydock/HardwareProfile/v1\nmetadata: {{name: hw}}\ndata: {{}}\n{profiles}---\nschema: drydock/BaremetalNode/v1\nmetadata: {{name: n1}}\ndata:\n  host_profile: a\n  addressing: [{{network: x, address: dhcp}}]\n"
    )
}

fn profile(name: &str, parent: &str) -> String {
    format!("---\nschema: drydock/HostProfile/v1\nmetadata: {{name: {name}}}\ndata: {{host_profile: {parent}, hardware_profile: hw}}\n")
}

#[test]
fn missing_and_cyclic_profiles_are_clean_errors() {
    let ingested = Ingester::new().ingest_str(&node_and_profiles(&profile("a", "missing")), None).expect("parses");
    let error = compile(ingested.design).expect_err("missing parent");
    assert_eq!(error, CompileError::HostProfileNotFound { name: "missing".into(), referrer: "a".into() });

    let cyclic = format!("{}{}{}", profile("a", "b"), profile("b", "c"), profile("c", "b"));
    let ingested = Ingester::new().ingest_str(&node_and_profiles(&cyclic), None).expect("parses");
    let error = compile(ingested.design).expect_err("cycle");
    assert_eq!(error.to_string(), "HostProfile chain is cyclic: b -> c -> b");

    let evaluation = evaluate_text(&node_and_profiles(&profile("a", "a"))).expect("loads");
    assert_eq!(evaluation.report.status.as_str(), "failure");
    assert!(evaluation.report.messages[0].message().starts_with("Error loading effective site: HostProfile chain is cyclic"));
}

#[test]
fn oversized_and_deep_documents_are_rejected_with_their_line() {
    let big = format!(
        "---\nschema: drydock/Network/v1\nmetadata: {{name: n}}\ndata: {{cidr: 10.0.0.0/8}}\n---\nschema: drydock/Region/v1\nmetadata: {{name: r}}\ndata:\n  authorized_keys: ['{}']\n",
        "k".repeat(50 << 20)
    );
    let error = evaluate_text(&big).expect_err("too large");
    assert!(error.to_string().contains("limit"), "{error}");
    assert_eq!(error.line(), Some(5));

    let deep = format!("---\nschema: drydock/Region/v1\nmetadata: {{name: r}}\ndata: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let error = evaluate_text(&deep).expect_err("too deep");
    assert!(error.to_string().contains("input.yaml:4"), "{error}");
}

#[test]
fn invalid_utf8_names_the_line() {
    let mut bytes = b"---\nschema: drydock/Region/v1\nmetadata: {name: r}\ndata: {}\n# caf".to_vec();
    bytes.push(0xe9);
    let error = Ingester::new().ingest_bytes(&bytes, Some("site.yaml")).expect_err("not UTF-8");
    assert_eq!(error.line(), Some(5));
    assert!(error.to_string().starts_with("site.yaml: the design is not valid UTF-8"), "{error}");
}

#[test]
fn broken_envelopes_are_dd000() {
    let text = "---\nschema: drydock/Region/v1\nmetadata: {name: null}\ndata: {}\n---\n- just\n- a list\n---\nschema: drydock/Widget/v1\nmetadata: {name: w}\ndata: {}\n";
    let evaluation = evaluate_text(text).expect("loads");
    let findings: Vec<_> = evaluation.report.findings().collect();
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(findings.iter().all(|f| f.code == "DD000"));
    assert!(findings[2].message.contains("Invalid document - Kind Widget and Version v1"));
}
