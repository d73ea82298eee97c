#!/usr/bin/env bash
# The README's quickstart, as a check: scripts/quickstart.sh must provision
# every node of examples/site.yaml, and the closing per-node summary must show
# each node succeeded with its boot actions reported as success.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# As the README runs it (debug builds, which the test run has already).
scripts/quickstart.sh 2>&1 | tee "$out"

nodes=$(grep -c 'kind: BaremetalNode\|schema: drydock/BaremetalNode/v1' examples/site.yaml)
ok=$(grep -cE '^[a-z0-9-]+ +succeeded +([a-z-]+: success(; )?)+$' "$out" || true)
if [ "$ok" -ne "$nodes" ]; then
    echo "quickstart: expected $nodes nodes deployed with every boot action successful, saw $ok" >&2
    exit 1
fi
if pgrep -f "drydock-quickstart" > /dev/null; then
    echo "quickstart: processes are still running after it ended:" >&2
    pgrep -af "drydock-quickstart" >&2
    exit 1
fi
echo "quickstart: $ok of $nodes nodes deployed, boot actions reported; nothing left running"
