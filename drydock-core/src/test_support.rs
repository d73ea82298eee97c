//! Helpers for this crate's own tests (compiled only for tests).

use std::path::{Path, PathBuf};

/// The example binary `name`, which `cargo test` builds: either the plain
/// name or cargo's hashed `name-<hash>` in `target/*/examples`.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let examples = exe.parent().and_then(Path::parent).map(|dir| dir.join("examples")).expect("target dir");
    let plain = examples.join(name);
    if plain.is_file() {
        return plain;
    }
    std::fs::read_dir(&examples)
        .expect("examples directory")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            file.starts_with(&format!("{name}-")) && path.extension().is_none()
        })
        .unwrap_or_else(|| panic!("example {name} built by cargo test"))
}
