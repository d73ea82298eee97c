#!/usr/bin/env bash
# The Python package as users get it: build the drydock-rs wheel (release,
# stripped, manylinux_2_28 by maturin --zig) and the
# drydock-provisioner-compat wheel, check the wheel (platform tag,
# auditwheel, no symbol tables), install both into a fresh venv from the
# built files only (scripts/lib/python-venv.sh), check the stubs with
# mypy --strict (a typed usage file and the README's example), and run
# drydock-py/tests with pytest against that install (test_live.py against
# `drydock serve`, including the README's example as written).
# Usage: scripts/checks/python.sh   (from anywhere; needs python3 with venv, cargo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/python-venv.sh
source "$ROOT/scripts/lib/python-venv.sh"
fail() { echo "python.sh: $*" >&2; exit 1; }

# The wheel: its platform tag, what auditwheel makes of it, and a stripped
# extension.
arch=$(uname -m)
case "$(basename "$PY_WHEEL")" in
    drydock_rs-*-cp39-abi3-manylinux_2_28_"$arch".whl) ;;
    *) fail "unexpected wheel $(basename "$PY_WHEEL") (want drydock_rs-*-cp39-abi3-manylinux_2_28_$arch.whl)" ;;
esac
audit=$("$PY_TOOLS/bin/auditwheel" show "$PY_WHEEL" 2>&1) || fail "auditwheel show failed: $audit"
# auditwheel names the oldest policy the wheel satisfies (external
# libraries, glibc symbol versions); manylinux_2_28 or older is what we ship.
policy=$(tr '\n' ' ' <<< "$audit" | sed -nE 's/.*consistent with the following platform tag: "?(manylinux_2_([0-9]+)_[a-z0-9_]+)"?.*/\1/p')
[ -n "$policy" ] || fail "auditwheel show did not name a manylinux tag: $audit"
minor=$(sed -nE 's/manylinux_2_([0-9]+)_.*/\1/p' <<< "$policy")
[ "$minor" -le 28 ] || fail "the wheel needs $policy (newer than manylinux_2_28): $audit"
"$PY_TOOLS/bin/python" - "$PY_WHEEL" <<'EOF'
import io, os, sys, zipfile
from elftools.elf.elffile import ELFFile

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as archive:
    [name] = [entry for entry in archive.namelist() if entry.startswith("drydock/_drydock") and entry.endswith(".so")]
    data = archive.read(name)
    names = set(archive.namelist())
sections = [section.name for section in ELFFile(io.BytesIO(data)).iter_sections()]
unstripped = [section for section in sections if section == ".symtab" or section.startswith(".debug")]
if unstripped:
    sys.exit(f"python.sh: {name} is not stripped: {unstripped}")
for wanted in ("drydock/_drydock.pyi", "drydock/py.typed", "drydock/types.py"):
    if wanted not in names:
        sys.exit(f"python.sh: the wheel lacks {wanted}")
print(f"wheel {os.path.basename(wheel)}: {os.path.getsize(wheel) / 1e6:.1f} MB, {name} {len(data) / 1e6:.1f} MB, stripped")
EOF
echo "auditwheel: consistent with $policy"

# The install: ours from the built files, and no `drydock` distribution
# (the unrelated PyPI project) anywhere.
"$VENV/bin/python" - "$VENV" <<'EOF'
import importlib.metadata as metadata, os, sys

import drydock
import drydock_provisioner.drydock_client.client

venv = os.path.realpath(sys.argv[1])
for module in (drydock, drydock_provisioner.drydock_client.client):
    if not os.path.realpath(module.__file__).startswith(venv + os.sep):
        sys.exit(f"python.sh: {module.__name__} comes from {module.__file__}, not the venv")
try:
    metadata.distribution("drydock")
    sys.exit("python.sh: a distribution named drydock is installed")
except metadata.PackageNotFoundError:
    pass
requires = metadata.requires("drydock-provisioner-compat") or []
if not any(line.startswith("drydock-rs") for line in requires):
    sys.exit(f"python.sh: drydock-provisioner-compat requires {requires}, not drydock-rs")
print(f"installed drydock-rs {metadata.version('drydock-rs')} and drydock-provisioner-compat "
      f"{metadata.version('drydock-provisioner-compat')} from the built wheels (compat requires {requires})")
EOF

# The stubs, as a type checker sees the installed package.
py_pip "$VENV" install --quiet "mypy==2.4.1" "types-requests==2.33.0.20261030"
typed="$(mktemp -d)"
trap 'rm -rf "$typed"' EXIT
"$VENV/bin/python" drydock-py/tests/readme_example.py > "$typed/readme_example.py"
cp drydock-py/tests/typed_usage.py "$typed/"
(cd "$typed" && "$VENV/bin/mypy" --strict --cache-dir /dev/null typed_usage.py readme_example.py)

cargo build --quiet -p drydock-http --bin drydock -p drydock-sim --bin drydock-sim
export DRYDOCK_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock"
export DRYDOCK_SIM_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/drydock-sim"
export DRYDOCK_SHARED="${DRYDOCK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}"
status=0
(cd drydock-py/tests && "$VENV/bin/python" -m pytest -q -p no:cacheprovider .) || status=$?
if [ "$status" -eq 5 ]; then
    echo "python.sh: pytest collected no tests; treating as failure" >&2
    exit 1
fi
exit "$status"
