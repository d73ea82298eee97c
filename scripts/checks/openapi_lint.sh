#!/usr/bin/env bash
# Lints the committed OpenAPI document (openapi/drydock-v1.0.json) with
# redocly (npm, pinned) and openapi-spec-validator (PyPI, pinned); fails on
# any error from either. Rule settings, each justified, are in
# openapi/redocly.yaml. The tools go into gitignored directories
# (.lint-node/, .venv-lint/).
# Usage: scripts/checks/openapi_lint.sh   (needs node + npm, python3 with venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DOC="openapi/drydock-v1.0.json"
REDOCLY_VERSION="2.77.0"
VALIDATOR_VERSION="0.9.0"
NODE_DIR="$ROOT/.lint-node"
VENV="$ROOT/.venv-lint"

if [ ! -x "$NODE_DIR/node_modules/.bin/redocly" ] \
    || ! grep -q "\"version\": \"$REDOCLY_VERSION\"" "$NODE_DIR/node_modules/@redocly/cli/package.json" 2>/dev/null; then
    mkdir -p "$NODE_DIR"
    npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "@redocly/cli@$REDOCLY_VERSION"
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$VALIDATOR_VERSION"

echo "== openapi-spec-validator $VALIDATOR_VERSION"
"$VENV/bin/openapi-spec-validator" "$DOC"

echo "== redocly lint $REDOCLY_VERSION"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    "$NODE_DIR/node_modules/.bin/redocly" lint --config openapi/redocly.yaml "$DOC"
