# Sourced by scripts/test.sh: make the real BMC peers of the OOB driver tests
# (drydock-core/tests/oob) available: OpenIPMI's ipmi_sim and ipmitool from
# Debian, and sushy-tools (sushy-emulator) from PyPI. Anything already
# installed is used as it is; only what is missing gets installed, quietly.
# sushy-tools goes into a cached venv (Debian's python refuses system-wide pip
# installs); DRYDOCK_SUSHY_PYTHON tells the tests which python has it.

drydock_oob_apt() {
    local apt_get
    if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    if [ -z "${drydock_oob_apt_updated:-}" ]; then
        $apt_get update -qq >/dev/null
        drydock_oob_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v ipmi_sim >/dev/null 2>&1 || ! command -v ipmitool >/dev/null 2>&1; then
    echo "oob.sh: installing openipmi and ipmitool"
    drydock_oob_apt openipmi ipmitool
fi

drydock_sushy_check='import sushy_tools.emulator.main'
if [ -n "${DRYDOCK_SUSHY_PYTHON:-}" ]; then
    :
elif python3 -c "$drydock_sushy_check" >/dev/null 2>&1; then
    export DRYDOCK_SUSHY_PYTHON=python3
else
    drydock_sushy_venv="${DRYDOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/drydock}/sushy-venv"
    if ! "$drydock_sushy_venv/bin/python" -c "$drydock_sushy_check" >/dev/null 2>&1; then
        echo "oob.sh: installing sushy-tools into $drydock_sushy_venv"
        if ! python3 -m venv "$drydock_sushy_venv" >/dev/null 2>&1; then
            drydock_oob_apt python3-venv
            python3 -m venv "$drydock_sushy_venv" >/dev/null
        fi
        "$drydock_sushy_venv/bin/pip" install -q --disable-pip-version-check sushy-tools >/dev/null
    fi
    export DRYDOCK_SUSHY_PYTHON="$drydock_sushy_venv/bin/python"
fi
echo "oob.sh: ipmi_sim $(command -v ipmi_sim), ipmitool $(command -v ipmitool), sushy-tools via $DRYDOCK_SUSHY_PYTHON"
