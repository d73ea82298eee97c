//! Shared helpers for the benches: generating sites with
//! `shared/tools/gen_site.py` (cached under `target/bench-sites/`).

use std::path::{Path, PathBuf};

pub mod repository;

/// `shared/`, beside the repository (override with `DRYDOCK_SHARED`).
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("DRYDOCK_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// The YAML of `gen_site.py --nodes N --racks R --seed S`, generated once.
pub fn generated_site(nodes: usize, racks: usize, seed: u64) -> String {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-sites");
    let path = cache.join(format!("site-{nodes}-{racks}-{seed}.yaml"));
    if let Ok(text) = std::fs::read_to_string(&path) {
        return text;
    }
    let script = shared_dir().join("tools/gen_site.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .args(["--nodes", &nodes.to_string(), "--racks", &racks.to_string(), "--seed", &seed.to_string()])
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", script.display()));
    assert!(output.status.success(), "gen_site.py failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("gen_site.py writes UTF-8");
    let _ = std::fs::create_dir_all(&cache);
    let _ = std::fs::write(&path, &text);
    text
}

/// A generated site in a file of its own, with its node names in design
/// order (keep `dir` alive while the file is used).
pub struct SiteFile {
    /// The directory holding the file.
    pub dir: tempfile::TempDir,
    /// The file.
    pub path: PathBuf,
    /// The `BaremetalNode` names.
    pub nodes: Vec<String>,
}

/// [`generated_site`] written to a fresh file, with its node names.
pub fn generated_site_file(nodes: usize, racks: usize, seed: u64) -> SiteFile {
    let text = generated_site(nodes, racks, seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("site.yaml");
    std::fs::write(&path, &text).expect("write site");
    let nodes = text
        .split("schema: drydock/BaremetalNode/v1")
        .skip(1)
        .filter_map(|doc| {
            doc.lines().find(|line| line.trim_start().starts_with("name: ")).map(|line| line.trim().trim_start_matches("name: ").to_owned())
        })
        .collect();
    SiteFile { dir, path, nodes }
}

/// Peak resident memory of this process so far, in MiB (Linux).
pub fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|line| line.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|line| line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
