#!/usr/bin/env bash
# The README's quickstart, as a check: scripts/quickstart.sh must provision
# every node of examples/site.yaml, the closing per-node summary must show
# each node succeeded with its boot actions reported as success, and every
# node must then carry its owner_data as labels in the simulated Promenade. It runs
# twice: as the README says, and from another directory with an absolute
# design path; the commands it prints must name files that exist, so they
# work when pasted.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# One run's output in $out ($1 names it; it was started in $2): every node
# deployed, nothing left running, and each printed command's binary and
# design paths real from where it was started.
check_run() {
    local nodes ok labelled
    nodes=$(grep -c 'kind: BaremetalNode\|schema: drydock/BaremetalNode/v1' examples/site.yaml)
    ok=$(grep -cE '^[a-z0-9-]+ +succeeded +([a-z-]+: success(; )?)+$' "$out" || true)
    if [ "$ok" -ne "$nodes" ]; then
        echo "quickstart ($1): expected $nodes nodes deployed with every boot action successful, saw $ok" >&2
        exit 1
    fi
    labelled=$(grep -cE '^labels [a-z0-9-]+: .*site=synth7' "$out" || true)
    if [ "$labelled" -ne "$nodes" ]; then
        echo "quickstart ($1): expected $nodes nodes labelled through Promenade, saw $labelled" >&2
        exit 1
    fi
    if pgrep -f "drydock-quickstart" > /dev/null; then
        echo "quickstart ($1): processes are still running after it ended:" >&2
        pgrep -af "drydock-quickstart" >&2
        exit 1
    fi
    local commands=0 line word path
    while IFS= read -r line; do
        commands=$((commands + 1))
        read -r -a words <<< "${line#\$ }"
        (cd "$2" && [ -x "${words[0]}" ]) || { echo "quickstart ($1): the printed command's binary ${words[0]} does not exist (from $2): $line" >&2; exit 1; }
        for word in "${words[@]}"; do
            case $word in
                file://*) path=${word#file://} ;;
                *.yaml) path=$word ;;
                *) continue ;;
            esac
            [ -f "$path" ] || { echo "quickstart ($1): the printed command names $word, which does not exist: $line" >&2; exit 1; }
        done
    done < <(grep '^\$ ' "$out")
    [ "$commands" -ge 5 ] || { echo "quickstart ($1): expected the commands it runs to be printed, saw $commands" >&2; exit 1; }
    grep -q '^export DD_URL=http://127.0.0.1:' "$out" || { echo "quickstart ($1): DD_URL for the printed commands is not shown" >&2; exit 1; }
    echo "quickstart ($1): $ok of $nodes nodes deployed, boot actions reported, $labelled labelled through Promenade, $commands printed commands name real files; nothing left running"
}

# As the README runs it (debug builds, which the test run has already).
scripts/quickstart.sh 2>&1 | tee "$out"
check_run "as the README runs it" "$root"

# From elsewhere, with an absolute path to the design.
(cd / && "$root/scripts/quickstart.sh" "$root/examples/site.yaml") 2>&1 | tee "$out"
check_run "absolute design path, started from /" /
