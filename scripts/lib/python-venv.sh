# Sourced by scripts/checks/{python,system}.sh: builds the two Python
# distributions as they are published and installs them as a user would.
#   - drydock-rs (import name drydock): one release build of drydock-py by
#     maturin with zig as the linker (`--zig`, zig from the ziglang PyPI
#     package), so the wheel is manylinux_2_28 (glibc 2.28) whatever the
#     build host's glibc; stripped (drydock-py/pyproject.toml: strip = true);
#   - drydock-provisioner-compat, a pure-Python wheel;
# both into $PY_DIST, then a fresh venv at $VENV: pytest and requests from
# PyPI, then drydock-rs and drydock-provisioner-compat from $PY_DIST only
# (pip --no-index), so nothing of ours can come from PyPI.
# The build tools (maturin, ziglang, auditwheel) live in their own venv.
# Needs ROOT (the checkout); sets VENV, PY_TOOLS, PY_DIST and PY_WHEEL (the
# drydock-rs wheel).
# shellcheck shell=bash

PY_TOOLS="$ROOT/.venv-py-build"
PY_DIST="${CARGO_TARGET_DIR:-$ROOT/target}/python-dist"
VENV="$ROOT/.venv-py"
py_pip() { "$1/bin/pip" --disable-pip-version-check "${@:2}"; }

[ -x "$PY_TOOLS/bin/python" ] || python3 -m venv "$PY_TOOLS"
py_pip "$PY_TOOLS" install --quiet "maturin==1.16.0" "ziglang==0.17.1" "auditwheel==6.8.2"

rm -rf "$PY_DIST"
# maturin finds zig as `python -m ziglang` of the python on PATH.
PATH="$PY_TOOLS/bin:$PATH" "$PY_TOOLS/bin/maturin" build --quiet --release --zig --compatibility manylinux_2_28 \
    --locked --manifest-path "$ROOT/drydock-py/Cargo.toml" --out "$PY_DIST" --interpreter "$PY_TOOLS/bin/python"
py_pip "$PY_TOOLS" wheel --quiet --no-deps --wheel-dir "$PY_DIST" "$ROOT/drydock-py/compat"
rm -rf "$ROOT/drydock-py/compat/build" "$ROOT"/drydock-py/compat/*.egg-info
# shellcheck disable=SC2034  # for the script that sources this one
PY_WHEEL=$(find "$PY_DIST" -name 'drydock_rs-*.whl')

rm -rf "$VENV"
python3 -m venv "$VENV"
py_pip "$VENV" install --quiet "pytest>=7" "requests>=2.20"
py_pip "$VENV" install --quiet --no-index --find-links "$PY_DIST" drydock-rs drydock-provisioner-compat
