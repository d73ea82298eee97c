//! The module-rank invariant of ARCHITECTURE.md, enforced: every top-level
//! module of drydock-core refers only to modules of a lower rank (and to
//! itself), so the design path never depends on stores, drivers or the
//! orchestrator, and nothing depends on the orchestrator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The ranks, as ARCHITECTURE.md states them.
const RANKS: &[(&str, u8)] = &[
    ("ids", 0),
    ("encode", 0),
    ("model", 1),
    ("ingest", 2),
    ("task", 2),
    ("compile", 3),
    ("render", 3),
    ("store", 3),
    ("validate", 4),
    ("bootaction", 4),
    ("drivers", 4),
    ("lab", 4),
    ("designs", 5),
    ("metrics", 5),
    ("orchestrator", 6),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read dir") {
            rust_files(&entry.expect("entry").path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|ext| ext == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The top-level modules a file names as `crate::<module>`.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let tail = &rest[at + "crate::".len()..];
        let name: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.push(name);
        }
        rest = tail;
    }
    found
}

#[test]
fn modules_refer_only_to_lower_ranks() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let ranks: BTreeMap<&str, u8> = RANKS.iter().copied().collect();
    let mut violations = Vec::new();
    let mut checked = 0;
    for (module, rank) in RANKS {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        rust_files(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "module {module} has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            for name in references(&text) {
                if name == *module || name == "test_support" {
                    continue;
                }
                match ranks.get(name.as_str()) {
                    Some(other) if other < rank => {}
                    Some(other) => violations.push(format!("{} (rank {rank}) refers to crate::{name} (rank {other})", file.display())),
                    None => violations.push(format!("{} refers to crate::{name}, which has no rank here", file.display())),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "too few references seen ({checked}): is the scan broken?");
    assert!(violations.is_empty(), "module-rank violations:\n{}", violations.join("\n"));
}

#[test]
fn every_top_level_module_has_a_rank() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).expect("lib.rs");
    let ranked: Vec<&str> = RANKS.iter().map(|(module, _)| *module).collect();
    for line in lib.lines() {
        let line = line.trim();
        if let Some(module) = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod ")) {
            let module = module.trim_end_matches(';');
            assert!(module == "test_support" || ranked.contains(&module), "module {module} is missing from RANKS (and ARCHITECTURE.md)");
        }
    }
}
