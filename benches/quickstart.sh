#!/usr/bin/env bash
# The quickstart's run time (target: under 2 minutes on the standard
# machine): builds the release binaries once, then runs
# scripts/quickstart.sh three times and prints the wall time of each run
# (lab start to per-node summary, build excluded) as a table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p drydock-http -p drydock-sim --bins
echo "| run | seconds (whole script, build done) | nodes deployed |"
echo "|---|---:|---:|"
for run in 1 2 3; do
    out=$(mktemp)
    start=$(date +%s.%N)
    DRYDOCK_PROFILE=release scripts/quickstart.sh > "$out" 2>&1
    end=$(date +%s.%N)
    nodes=$(grep -cE '^[a-z0-9-]+ +succeeded ' "$out" || true)
    printf '| %s | %s | %s |\n' "$run" "$(python3 -c "print(f'{$end - $start:.1f}')")" "$nodes"
    rm -f "$out"
done
