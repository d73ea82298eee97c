#!/usr/bin/env bash
# Rendering site repositories (issue 21): whole-process wall time (best of
# 3) and peak RSS of `drydock render` and `drydock validate --site` for the
# largest treasuremap site (seaworthy) and for a generated repository of
# 10,000 nodes in three layers (benches/src/repository.rs: global
# templates, a type-layer template per rack with a substituted secret, every
# node layered on its rack's template), beside `drydock validate` of the
# same 10,000-node site as one flat file (benches/validate.sh's figure).
# Usage: benches/render.sh   (builds the release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DRYDOCK_SHARED:-$(cd .. && pwd)/shared}"
cargo build --quiet --release --locked -p drydock-http --bin drydock -p drydock-benches --bin gen-repo
work="target/bench-sites"
mkdir -p "$work"
flat="$work/site-10000-250-42.yaml"
[ -s "$flat" ] || python3 "$shared/tools/gen_site.py" --nodes 10000 --racks 250 --seed 42 --out "$flat" >/dev/null 2>&1
repo="$work/repo-10000-250-42"
[ -s "$repo/site/synthetic/site-definition.yaml" ] || target/release/gen-repo 10000 250 42 "$repo" >/dev/null
treasuremap="$shared/corpus/treasuremap-v1.9"
images=(--image jammy=ga-22.04,hwe-22.04)

# Each input must render and validate cleanly first.
check() {
    local summary
    summary=$(target/release/drydock "$@" | tail -n 1)
    case "$summary" in
        *"passed validation"*) ;;
        *) echo "render.sh: drydock $* did not validate: $summary" >&2; exit 1 ;;
    esac
}
check validate "${images[@]}" "$flat"
check validate --site seaworthy "$treasuremap"
check validate "${images[@]}" --site synthetic "$repo"

measure() {
    local label=$1; shift
    local best="" peak="" out wall kib
    for _ in 1 2 3; do
        out=$( { /usr/bin/time -f '%e %M' target/release/drydock "$@" >/dev/null; } 2>&1 | tail -n 1 )
        wall=${out% *}; kib=${out#* }
        if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; peak=$kib; fi
    done
    printf '%-44s %10s %10s\n' "$label" "$best" "$((peak / 1024))"
}

printf '%-44s %10s %10s\n' "command" "wall s" "peak MiB"
measure "validate, 10,000 nodes, one flat file" validate "${images[@]}" "$flat"
measure "render seaworthy (treasuremap)" render --site seaworthy "$treasuremap" -o json
measure "validate --site seaworthy (treasuremap)" validate --site seaworthy "$treasuremap"
measure "render, 10,000 nodes in three layers" render --site synthetic "$repo" -o json
measure "validate --site, 10,000 nodes, three layers" validate "${images[@]}" --site synthetic "$repo"
