//! `drydock render --site NAME DIR` and `drydock validate --site NAME DIR`
//! on the treasuremap sites and on small repositories of our own: output
//! formats, exit codes, errors with file and line, secrets masked.

use std::path::Path;

use super::{drydock, shared, stdout};

fn treasuremap() -> String {
    shared().join("corpus/treasuremap-v1.9").display().to_string()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A small repository: a layering policy, a site `lab` of type `small`,
/// and `files` beside them.
fn repository(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = vec![
        (
            "global/layering-policy.yaml",
            "schema: deckhand/LayeringPolicy/v1\nmetadata: {schema: metadata/Control/v1, name: layering-policy}\ndata: {layerOrder: [global, type, site]}\n",
        ),
        (
            "site/lab/site-definition.yaml",
            "schema: pegleg/SiteDefinition/v1\nmetadata: {schema: metadata/Document/v1, name: lab, storagePolicy: cleartext, layeringDefinition: {abstract: false, layer: site}}\ndata: {site_type: small}\n",
        ),
    ];
    all.extend_from_slice(files);
    for (path, text) in all {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn path(dir: &Path) -> String {
    dir.display().to_string()
}

#[test]
fn every_treasuremap_site_validates_from_its_repository() {
    for site in ["seaworthy", "airsloop", "seaworthy-virt"] {
        let output = drydock(&["validate", "--site", site, &treasuremap()]);
        assert_eq!(output.status.code(), Some(0), "{site}: {}{}", stdout(&output), stderr(&output));
        assert!(stdout(&output).contains("Site design passed validation (0 errors, 1 warning, 18 rules passed)"), "{}", stdout(&output));
        let output = drydock(&["validate", "-o", "json", "--site", site, &treasuremap()]);
        let body: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(body["status"], "Success");
        assert_eq!(body["details"]["messageList"].as_array().map(Vec::len), Some(19), "{site}");
    }
}

#[test]
fn render_prints_documents_in_each_format() {
    let yaml = drydock(&["render", "--site", "seaworthy", &treasuremap(), "--schema", "drydock/"]);
    assert_eq!(yaml.status.code(), Some(0), "{}", stderr(&yaml));
    let text = stdout(&yaml);
    assert_eq!(text.matches("\n---\n").count() + usize::from(text.starts_with("---\n")), 26, "seaworthy has 26 Drydock documents");
    assert!(
        text.contains("# source: ")
            && text.contains("site/seaworthy/profiles/host/cp_r720.yaml:1 [drydock/HostProfile/v1, site] cp_r720-primary"),
        "{text}"
    );
    assert!(text.contains("# layered on: [drydock/HostProfile/v1, global] cp-global ("), "{text}");
    assert!(!text.contains("deckhand/Passphrase"), "--schema filters");

    let json = drydock(&["render", "--site", "airsloop", &treasuremap(), "-o", "json", "--schema", "drydock/BaremetalNode"]);
    let documents: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(documents.as_array().map(Vec::len), Some(1));
    assert_eq!(documents[0]["metadata"]["name"], "airsloop-compute-1");

    let table = drydock(&["render", "--site", "seaworthy-virt", &treasuremap(), "-o", "text"]);
    let text = stdout(&table);
    assert!(text.starts_with("SCHEMA"), "{text}");
    assert!(text.contains("replaces [drydock/HostProfile/v1, global] cp-global"), "{text}");
    assert!(text.contains("32 documents"), "{text}");
}

#[test]
fn a_site_that_does_not_render_names_the_document_file_and_line() {
    let repo = repository(&[
        (
            "global/profile.yaml",
            "schema: drydock/HardwareProfile/v1\nmetadata: {schema: metadata/Document/v1, name: base, storagePolicy: cleartext, labels: {role: base}, layeringDefinition: {abstract: true, layer: global}}\ndata: {}\n",
        ),
        (
            "site/lab/host.yaml",
            "---\n# a host profile\nschema: drydock/HostProfile/v1\nmetadata: {schema: metadata/Document/v1, name: host, storagePolicy: cleartext, layeringDefinition: {layer: site, parentSelector: {role: base}, actions: [{method: merge, path: .}]}}\ndata: {}\n",
        ),
    ]);
    let host = repo.path().join("site/lab/host.yaml").display().to_string();
    let output = drydock(&["render", "--site", "lab", &path(repo.path())]);
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.starts_with(&format!(
            "error: {host}:1: [drydock/HostProfile/v1, site] host: its parentSelector matches [drydock/HardwareProfile/v1, global] base ("
        )),
        "{error}"
    );
    assert!(
        error.contains("which has schema drydock/HardwareProfile/v1 (documents of different schemas are never layered together)"),
        "{error}"
    );

    let output = drydock(&["validate", "--site", "lab", &path(repo.path())]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("error[DD010]: Error rendering site: "), "{text}");
    assert!(text.contains(&format!("--> HostProfile 'host' at {host}:1")), "{text}");
    assert!(text.contains("Site design could not be evaluated"), "{text}");
}

#[test]
fn format_errors_are_listed_one_per_line() {
    let repo = repository(&[(
        "site/lab/net.yaml",
        "schema: drydock/Network/v1\nmetadata:\n  schema: metadata/Document/v1\n  name: oob\n  layeringDefinition: {layer: site}\ndata: {}\n---\nschema: drydock/Network/v1\nmetadata:\n  schema: metadata/Document/v1\n  name: pxe\n  storagePolicy: cleartext\n  layeringDefinition: {layer: nowhere, colour: red}\ndata: {}\n",
    )]);
    let net = repo.path().join("site/lab/net.yaml").display().to_string();
    let output = drydock(&["render", "--site", "lab", &path(repo.path())]);
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(error.contains(&format!("error: {net}:3: [drydock/Network/v1, site] oob: metadata.storagePolicy is required")), "{error}");
    assert!(
        error.contains(&format!(
            "error: {net}:13: [drydock/Network/v1, nowhere] pxe: metadata.layeringDefinition has an unexpected key 'colour'"
        )),
        "{error}"
    );
}

#[test]
fn encrypted_secrets_never_appear_in_output_or_findings() {
    let repo = repository(&[
        (
            "site/lab/secrets/mtu.yaml",
            "schema: deckhand/Passphrase/v1\nmetadata: {schema: metadata/Document/v1, name: mtu, storagePolicy: encrypted, layeringDefinition: {layer: site}}\ndata: sw0rdfish-9\n",
        ),
        (
            "site/lab/net.yaml",
            "schema: drydock/Network/v1\nmetadata: {schema: metadata/Document/v1, name: oob, storagePolicy: cleartext, layeringDefinition: {layer: site}, substitutions: [{src: {schema: deckhand/Passphrase/v1, name: mtu, path: .}, dest: {path: .mtu}}]}\ndata: {cidr: 172.16.0.0/24}\n",
        ),
    ]);
    for format in ["yaml", "json", "text"] {
        let output = drydock(&["render", "--site", "lab", &path(repo.path()), "-o", format]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(!stdout(&output).contains("sw0rdfish"), "{format}: {}", stdout(&output));
    }
    let output = drydock(&["render", "--site", "lab", &path(repo.path())]);
    assert!(stdout(&output).contains("<redacted: storagePolicy encrypted>"), "{}", stdout(&output));
    // The substituted secret is not an integer: DD001 would quote it.
    for format in ["text", "json"] {
        let output = drydock(&["validate", "-o", format, "--site", "lab", &path(repo.path())]);
        assert_eq!(output.status.code(), Some(1));
        let text = stdout(&output);
        assert!(text.contains("DD001") && text.contains("***"), "{text}");
        assert!(!text.contains("sw0rdfish"), "{format}: {text}");
    }
}

#[test]
fn a_missing_site_or_repository_exits_two() {
    let output = drydock(&["render", "--site", "nowhere", &treasuremap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no site nowhere: ")
            && stderr(&output).contains("the sites here are: airsloop, seaworthy, seaworthy-virt"),
        "{}",
        stderr(&output)
    );
    let output = drydock(&["validate", "--site", "seaworthy", "/definitely/not/a/repository"]);
    assert_eq!(output.status.code(), Some(2));
    let output = drydock(&["validate", "--site", "seaworthy", &treasuremap(), &treasuremap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--site takes one site repository folder"), "{}", stderr(&output));
    let repo = repository(&[("site/lab/bad.yaml", "a: [unclosed\n")]);
    let output = drydock(&["render", "--site", "lab", &path(repo.path())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bad.yaml:2: Error parsing YAML"), "{}", stderr(&output));
}

#[test]
fn a_site_repository_reference_validates_too() {
    let root = shared().join("corpus/treasuremap-v1.9").canonicalize().expect("corpus");
    let reference = format!("pegleg+file://{}?site=airsloop", root.display());
    let output = drydock(&["validate", &reference]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let output = drydock(&["validate", &reference, &reference]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is a site repository: give it alone"), "{}", stderr(&output));
}
