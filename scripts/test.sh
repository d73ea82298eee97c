#!/usr/bin/env bash
# Run every test of the workspace on this machine: install and start what the
# tests need (scripts/setup/*.sh, sourced so they can export variables and
# register cleanup), run the Rust suites, then the other suites
# (scripts/checks/*.sh: pytest and friends). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

cleanup_hooks=()
cleanup() {
    local hook
    for hook in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do "$hook" || true; done
}
trap cleanup EXIT

for setup in scripts/setup/*.sh; do
    [ -e "$setup" ] || continue
    echo "==> setup: $setup"
    # shellcheck source=/dev/null
    source "$setup"
done

export DRYDOCK_SHARED="${DRYDOCK_SHARED:-$(cd .. && pwd)/shared}"

# A CI machine builds once: incremental caches would only take disk (GBs).
# Its free disk is reported at each stage so a full disk is easy to see.
disk() { :; }
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
    disk() { echo "disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free, target $(du -sh target 2>/dev/null | cut -f1)"; }
fi
disk

# The libvirt OOB driver is an opt-in feature (it links the system's libvirt,
# which scripts/setup/libvirt.sh installs): CI lints and documents the
# workspace with it (and the server without it), and runs the libvirt tests
# with it after the workspace's tests, which, like every check, build without
# it (one debug build of the workspace, not two).
libvirt=(--features drydock-http/libvirt)

echo "==> lint: cargo fmt, cargo clippy, cargo doc (warnings denied; drydock-core also design-only)"
cargo fmt --all --check
# The generated-client check's Rust crate is outside the workspace.
cargo fmt --check --manifest-path tests/clients/rust/Cargo.toml
cargo clippy --workspace --all-targets --locked "${libvirt[@]}" -- -D warnings
cargo clippy -p drydock-http --lib --bins --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet "${libvirt[@]}"
# drydock-core with no default features is the design path alone (no tokio,
# no templates): it must build, lint and document on its own.
cargo clippy -p drydock-core --no-default-features --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -p drydock-core --no-default-features --no-deps --locked --quiet

log_dir="$(mktemp -d)"
cleanup_hooks+=(remove_logs)
remove_logs() { rm -rf "$log_dir"; }

echo "==> cargo test"
cargo test --workspace --locked 2>&1 | tee "$log_dir/cargo.log"
cargo test -p drydock-core --locked --features libvirt --lib --test libvirt 2>&1 | tee "$log_dir/cargo-libvirt.log"
disk

for check in scripts/checks/*.sh; do
    [ -e "$check" ] || continue
    echo "==> check: $check"
    bash "$check" 2>&1 | tee "$log_dir/check-$(basename "$check").log"
    disk
done

# One closing line for the whole run: cargo's "test result: ok. N passed; M
# failed" and pytest's "N passed" / "M failed" summaries, added up.
passed=$(cat "$log_dir"/*.log | sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed.*/\1/p; s/^=* *(.*[^0-9])?([0-9]+) passed(,| in).*/\2/p' | awk '{s+=$1} END {print s+0}')
failed=$(cat "$log_dir"/*.log | sed -nE 's/^test result: [a-zA-Z]+\. [0-9]+ passed; ([0-9]+) failed.*/\1/p; s/^=* *(.*[^0-9])?([0-9]+) failed(,| in).*/\2/p' | awk '{s+=$1} END {print s+0}')
echo "tests: $passed passed, $failed failed"
