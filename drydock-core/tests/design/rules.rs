//! One fixture pair per validation rule (`tests/fixtures/rules/NN_ddXXXX_*`):
//! appended to a prelude site that passes every rule, the `fires` fixture
//! makes rule NN report and the `passes` fixture does not. Each rule's
//! findings are snapshotted (insta).

use std::path::Path;

use drydock_core::model::{Finding, Level};
use drydock_core::validate::{PlatformCatalog, RULES, RuleContext, ValidationOptions, run_rule};

use crate::support::compile_text;

fn fixtures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rules"))
}

fn options() -> ValidationOptions {
    ValidationOptions {
        platform: Some(PlatformCatalog::Available(vec![("jammy".into(), vec!["ga-22.04".into(), "hwe-22.04".into()])])),
        ..ValidationOptions::default()
    }
}

fn prelude() -> String {
    std::fs::read_to_string(fixtures_dir().join("_prelude.yaml")).expect("prelude")
}

fn render(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|finding| {
            let documents: Vec<String> = finding.documents.iter().map(|doc| format!("{}:{}", doc.schema, doc.name)).collect();
            format!(
                "{} {} {}\n  diagnostic: {}\n  documents: [{}]\n",
                finding.level.as_str(),
                finding.code,
                finding.message,
                finding.diagnostic,
                documents.join(", ")
            )
        })
        .collect()
}

#[test]
fn prelude_passes_every_rule() {
    let site = compile_text(&prelude());
    let options = options();
    let context = RuleContext { site: &site, options: &options };
    for rule in &RULES {
        let findings = run_rule(rule, &context);
        assert_eq!(findings.len(), 1, "{rule:?}: {}", render(&findings));
        assert_eq!(findings[0].level, Level::Info);
        assert_eq!(findings[0].message, format!("{}: Validation successful.", rule.name));
    }
}

#[test]
fn each_rule_fires_on_its_fixture_and_not_on_its_counterpart() {
    let prelude = prelude();
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures")
        .filter_map(|entry| entry.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| !name.starts_with('_'))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2 * RULES.len(), "a fires and a passes fixture per rule");
    let options = options();
    for name in names {
        let index: usize = name[..2].parse().expect("NN_ prefix");
        let rule = &RULES[index - 1];
        assert!(name[3..].starts_with(&rule.code.to_lowercase()), "{name} belongs to {rule:?}");
        let text = format!("{prelude}{}", std::fs::read_to_string(fixtures_dir().join(&name)).expect("fixture"));
        let site = compile_text(&text);
        let findings = run_rule(rule, &RuleContext { site: &site, options: &options });
        let reported = findings.iter().filter(|finding| finding.level != Level::Info).count();
        if name.ends_with("_fires.yaml") {
            assert!(reported > 0, "{name}: expected findings from {rule:?}");
        } else {
            assert_eq!(reported, 0, "{name}: {}", render(&findings));
        }
        let snapshot = name.trim_end_matches(".yaml").to_owned();
        insta::assert_snapshot!(snapshot, render(&findings));
    }
}

/// DD4002 accepts libvirt's test hypervisor only when validation is told to
/// (`drydock serve --libvirt-allow-test-uris`), and then with a warning;
/// other schemes stay errors either way.
#[test]
fn dd4002_accepts_test_uris_only_with_the_lab_switch() {
    let rule = RULES.iter().find(|rule| rule.code == "DD4002").expect("DD4002");
    let node = |uri: &str| {
        format!(
            "{}---\nschema: drydock/BaremetalNode/v1\nmetadata: {{name: n2}}\ndata:\n  host_profile: base\n  addressing:\n    - {{network: mgmt, address: 10.1.0.21}}\n  oob: {{type: libvirt, libvirt_uri: '{uri}'}}\n  metadata: {{boot_mac: '52:54:00:aa:bb:cc'}}\n",
            prelude()
        )
    };
    let levels = |uri: &str, lab: bool| -> Vec<Level> {
        let site = compile_text(&node(uri));
        let options = ValidationOptions { libvirt_test_uris: lab, ..options() };
        run_rule(rule, &RuleContext { site: &site, options: &options }).into_iter().map(|finding| finding.level).collect()
    };
    assert_eq!(levels("test:///tmp/nodes.xml", false), [Level::Error]);
    assert_eq!(levels("test:///tmp/nodes.xml", true), [Level::Warning, Level::Info]);
    assert_eq!(levels("qemu+ssh://virsh@hypervisor/system", true), [Level::Info]);
    assert_eq!(levels("http://somehost/system", true), [Level::Error]);
}
