#!/usr/bin/env bash
# `cargo install --path drydock-http`, as the README tells a new user: it
# must build from the checkout with the committed lock file and give a
# working `drydock` (its own target dir, so the test builds are untouched;
# a debug build, the quickest; CI removes it afterwards to keep the disk).
set -euo pipefail
cd "$(dirname "$0")/../.."

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
target=${CARGO_TARGET_DIR:-target}/install
cargo install --quiet --locked --debug --path drydock-http --root "$root" --target-dir "$target"
[ "${CI:-}" = true ] && rm -rf "$target"

drydock="$root/bin/drydock"
[ -x "$drydock" ] || { echo "install: cargo install left no $drydock" >&2; exit 1; }
"$drydock" --version
"$drydock" validate examples/site.yaml > /dev/null
echo "install: cargo install --path drydock-http gives a drydock that validates examples/site.yaml"
