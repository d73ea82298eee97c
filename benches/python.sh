#!/usr/bin/env bash
# Loading and validating a 10,000-node gen_site.py design from Python
# (`drydock.loads`) against the Rust library doing the same work through the
# release `drydock validate` binary, best of 3 each (issue 10: Python at most
# 1.3x Rust). Builds the release wheel into a venv under target/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SHARED="${DRYDOCK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/bench-pyenv"
SITE="$TARGET/bench-sites/site-10000-250-42.yaml"

mkdir -p "$TARGET/bench-sites"
[ -f "$SITE" ] || python3 "$SHARED/tools/gen_site.py" --nodes 10000 --racks 250 --seed 42 > "$SITE"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.5,<2" "requests>=2.20"
"$VENV/bin/maturin" build --quiet --release --manifest-path drydock-py/Cargo.toml --out "$TARGET/wheels-release" --interpreter "$VENV/bin/python"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$TARGET"/wheels-release/drydock_rs-*.whl
cargo build --quiet --release -p drydock-http --bin drydock

rust=$(python3 - "$TARGET/release/drydock" "$SITE" <<'PY'
import subprocess, sys, time
best = min(
    (lambda t0: (subprocess.run([sys.argv[1], "validate", "--output", "json", sys.argv[2]], stdout=subprocess.DEVNULL, check=False), time.perf_counter() - t0)[1])(time.perf_counter())
    for _ in range(3)
)
print(f"{best:.3f}")
PY
)
python=$("$VENV/bin/python" - "$SITE" <<'PY'
import sys, time
import drydock
text = open(sys.argv[1]).read()
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    site = drydock.loads(text, name="site.yaml")
    assert site.valid
    best = min(best, time.perf_counter() - t0)
print(f"{best:.3f}")
PY
)
printf '%-44s %10s\n' "10,000 nodes: load + validate" "seconds"
printf '%-44s %10s\n' "Rust (drydock validate, whole process)" "$rust"
printf '%-44s %10s\n' "Python (drydock.loads)" "$python"
python3 -c "print(f'Python / Rust = {float($python) / float($rust):.2f} (target <= 1.3)')"
