#!/usr/bin/env bash
# Whole-process `drydock validate` wall time and peak memory for generated
# sites, beside the original's figures (shared/spec/baseline.md).
# Usage: benches/validate.sh   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DRYDOCK_SHARED:-$(cd .. && pwd)/shared}"
cargo build --quiet --release --locked -p drydock-http --bin drydock
work="target/bench-sites"
mkdir -p "$work"
printf '%8s %8s %12s %12s %14s %14s\n' nodes racks "wall s" "peak MiB" "original s" "original MiB"
for spec in "100 4 0.105 87" "1000 25 1.067 115" "10000 250 15.636 416"; do
    set -- $spec
    site="$work/site-$1-$2-42.yaml"
    [ -s "$site" ] || python3 "$shared/tools/gen_site.py" --nodes "$1" --racks "$2" --seed 42 --out "$site" >/dev/null 2>&1
    # Generated sites must validate with no errors and no warnings.
    summary=$(target/release/drydock validate --image jammy=ga-22.04,hwe-22.04 "$site" | tail -n 1)
    case "$summary" in
        *"(0 errors, 0 warnings, 18 rules passed)"*) ;;
        *) echo "validate.sh: $site did not validate cleanly: $summary" >&2; exit 1 ;;
    esac
    best=""
    peak=""
    for _ in 1 2 3; do
        out=$( { /usr/bin/time -f '%e %M' target/release/drydock validate --image jammy=ga-22.04,hwe-22.04 "$site" >/dev/null; } 2>&1 )
        wall=${out% *}; kib=${out#* }
        if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; peak=$kib; fi
    done
    printf '%8s %8s %12s %12s %14s %14s\n' "$1" "$2" "$best" "$((peak / 1024))" "$3" "$4"
done
