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

echo "==> lint: cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked

for check in scripts/checks/*.sh; do
    [ -e "$check" ] || continue
    echo "==> check: $check"
    bash "$check"
done
echo "==> all tests passed"
