# Sourced by scripts/checks/{python,system}.sh: a venv at $VENV (.venv-py)
# with pytest and requests, the drydock wheel built by maturin (debug
# profile; a no-op rebuild when nothing changed) and the
# drydock_provisioner compatibility package installed.
# Needs ROOT (the checkout); sets VENV.

VENV="$ROOT/.venv-py"
drydock_wheels="${CARGO_TARGET_DIR:-$ROOT/target}/wheels"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.5,<2" "pytest>=7" "requests>=2.20"

rm -rf "$drydock_wheels"
"$VENV/bin/maturin" build --quiet --manifest-path "$ROOT/drydock-py/Cargo.toml" --out "$drydock_wheels" --interpreter "$VENV/bin/python"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$drydock_wheels"/drydock-*.whl
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$ROOT/drydock-py/compat"
rm -rf "$ROOT/drydock-py/compat/build" "$ROOT"/drydock-py/compat/*.egg-info
