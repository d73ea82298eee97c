//! The `drydock` binary as a user runs it: `drydock validate` output, JSON
//! body, and exit codes (0 clean, 1 errors, 2 cannot load).

mod client;
mod config;
mod logs;
mod render;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared() -> PathBuf {
    match std::env::var_os("DRYDOCK_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

fn sample(name: &str) -> String {
    shared().join("corpus/drydock-samples").join(name).display().to_string()
}

fn drydock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drydock")).args(args).env("NO_COLOR", "1").output().expect("drydock runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn clean_design_exits_zero() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/site.yaml");
    let output = drydock(&["validate", &example.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("Site design passed validation (0 errors, 1 warning, 18 rules passed)"));
    let output = drydock(&["validate", "--image", "jammy=ga-22.04,hwe-22.04", &example.display().to_string()]);
    assert!(stdout(&output).contains("(0 errors, 0 warnings, 18 rules passed)"), "{}", stdout(&output));
}

#[test]
fn findings_print_code_document_line_and_hint_and_exit_one() {
    let output = drydock(&["validate", &sample("invalid_network_cidr.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("error[DD2006]: CIDR Validity: The provided CIDR 172.16.100.1/24 has host bits set"), "{text}");
    assert!(text.contains("--> Network 'oob' at "), "{text}");
    assert!(text.contains("invalid_network_cidr.yaml:"), "{text}");
    assert!(text.contains("= hint: Provide a CIDR acceptable by MAAS: 172.16.100.0/24"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour when NO_COLOR is set or not a terminal");
}

#[test]
fn json_output_is_the_validatedesign_body() {
    let output = drydock(&["validate", "--output", "json", &sample("invalid_validation.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["apiVersion"], "v1.0");
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["message"], "Site design failed validation.");
    assert_eq!(body["reason"], "See detail messages.");
    assert_eq!(body["code"], 400);
    assert_eq!(body["details"]["errorCount"], 31);
    let first = &body["details"]["messageList"][0];
    let keys: Vec<&str> = first.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["kind", "name", "message", "error", "level", "diagnostic", "ts", "documents"]);
    assert_eq!(first["kind"], "ValidationMessage");
    let ts = first["ts"].as_str().expect("ts");
    assert!(ts.ends_with("+00:00") && ts.len() == "2026-11-25 01:33:06.465940+00:00".len(), "{ts}");

    let output = drydock(&["validate", "--output", "json", &sample("deckhand_fullsite.yaml")]);
    assert_eq!(output.status.code(), Some(0));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(body["status"], "Success");
    assert_eq!(body["message"], "Site design passed validation");
    assert_eq!(body["reason"], serde_json::Value::Null);
    assert_eq!(body["details"]["messageList"].as_array().map(Vec::len), Some(19));
}

#[test]
fn ingestion_failure_is_lowercase_failure_with_null_message() {
    let output = drydock(&["validate", "--output", "json", &sample("invalid_bootaction.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["message"], serde_json::Value::Null);
    assert_eq!(body["details"]["errorCount"], 3);
}

#[test]
fn unloadable_designs_exit_two_with_one_line() {
    for (args, expected) in [
        (vec!["validate".to_string(), "/no/such/site.yaml".to_string()], "design /no/such/site.yaml not found"),
        (vec!["validate".to_string(), sample("invalid.yaml")], "Error parsing YAML at (l:3, c:1)"),
        (vec!["validate".to_string(), "ftp://host/site.yaml".to_string()], "Invalid reference scheme ftp: no handler"),
    ] {
        let output = drydock(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn lab_scenario_matches_the_design() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/site.yaml");
    let output = drydock(&["lab", "scenario", &example.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let scenario: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let bmcs = scenario["bmcs"].as_array().expect("bmcs");
    assert_eq!(bmcs.len(), 6);
    assert!(bmcs.iter().any(|bmc| bmc["enlist"]["hostname"] == "cp-r01-n01"));
    let enlisted = drydock(&["lab", "scenario", "--enlisted", &example.display().to_string()]);
    let scenario: serde_json::Value = serde_json::from_slice(&enlisted.stdout).expect("JSON");
    assert_eq!(scenario["machines"].as_array().map(Vec::len), Some(6));
    let missing = drydock(&["lab", "scenario", "/no/such.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// `drydock … | head`: a reader that goes away before the output is written
/// ends the command quietly with success, never with a panic (exit 101).
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::process::Stdio;
    let site = format!("{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR"));
    for args in [vec!["validate", "-o", "json", site.as_str()], vec!["config", "reference"], vec!["config", "sample"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(&args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("drydock runs");
        // The reader goes away before anything is read.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("drydock ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// Shell completions and the man page come from the command tree: every
/// command is in them.
#[test]
fn completions_and_the_man_page_cover_every_command() {
    let commands = ["validate", "render", "serve", "task", "node", "design", "part", "config", "lab", "store", "db", "completions", "man"];
    for shell in ["bash", "zsh", "fish"] {
        let output = drydock(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = stdout(&output);
        for command in commands {
            assert!(script.contains(command), "{shell} completions lack {command}");
        }
    }
    let man = drydock(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    assert!(page.starts_with(".ie") || page.contains(".TH drydock"), "{}", &page[..page.len().min(200)]);
    for command in commands {
        assert!(page.contains(command), "the man page lacks {command}");
    }
    assert_eq!(drydock(&["completions", "nushell-9"]).status.code(), Some(2), "an unknown shell is a usage error");
}

/// One set of `-o` values for every command: text (alias table), json,
/// yaml — the local commands included.
#[test]
fn every_command_takes_the_same_output_formats() {
    let site = format!("{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = drydock(&["validate", "-o", "text", &site]);
    let table = drydock(&["validate", "-o", "table", &site]);
    assert_eq!((text.status.code(), stdout(&text)), (table.status.code(), stdout(&table)), "table is text");
    let yaml = drydock(&["validate", "-o", "yaml", &site]);
    assert_eq!(yaml.status.code(), Some(0));
    assert!(stdout(&yaml).contains("\"kind\": \"Status\""), "{}", stdout(&yaml));
    let missing = std::env::temp_dir().join(format!("drydock-no-store-{}.redb", std::process::id()));
    let store = drydock(&["store", "check", "-o", "yaml", &missing.display().to_string()]);
    assert!(stdout(&store).contains("\"status\""), "{}", stdout(&store));
    for command in [&["task", "list"][..], &["node", "list"][..], &["store", "check", "x"][..]] {
        let mut args = command.to_vec();
        args.extend(["-o", "nonsense"]);
        let refused = drydock(&args);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("text") && stderr.contains("json") && stderr.contains("yaml"), "{command:?}: {stderr}");
    }
}

/// `validate` reads several files in order as one design: a site split in
/// two validates as the whole does, and a finding names its own file.
#[test]
fn validate_reads_several_files_as_one_design() {
    let site = std::fs::read_to_string(format!("{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR"))).expect("site");
    let documents: Vec<&str> = site.split("\n---\n").collect();
    assert!(documents.len() > 4, "a multi-document site");
    let middle = documents.len() / 2;
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("first.yaml"), dir.path().join("second.yaml"));
    std::fs::write(&first, documents[..middle].join("\n---\n")).expect("first");
    std::fs::write(&second, format!("---\n{}", documents[middle..].join("\n---\n"))).expect("second");
    let whole = drydock(&["validate", "-o", "json", &format!("{}/../examples/site.yaml", env!("CARGO_MANIFEST_DIR"))]);
    let split = drydock(&["validate", "-o", "json", &first.display().to_string(), &second.display().to_string()]);
    let (whole_report, split_report): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&stdout(&whole)).expect("json"), serde_json::from_str(&stdout(&split)).expect("json"));
    assert_eq!(split.status.code(), whole.status.code());
    assert_eq!(split_report["status"], whole_report["status"]);
    assert_eq!(split_report["details"]["errorCount"], whole_report["details"]["errorCount"]);
    assert_eq!(
        split_report["details"]["messageList"].as_array().map(Vec::len),
        whole_report["details"]["messageList"].as_array().map(Vec::len)
    );

    // A broken document in the second file: the finding names that file.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "---\nschema: drydock/Network/v1\nmetadata:\n  schema: metadata/Document/v1\n  name: broken\ndata:\n  mtu: lots\n",
    )
    .expect("broken");
    let output = drydock(&["validate", &first.display().to_string(), &broken.display().to_string()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("broken.yaml"), "{}", stdout(&output));
}
