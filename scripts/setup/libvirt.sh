# Sourced by scripts/test.sh: what the libvirt OOB driver needs to build and
# be tested (drydock-core feature `driver-libvirt`, drydock-http feature
# `libvirt`; tests in drydock-core/tests/libvirt): libvirt's headers and
# pkg-config to build the `virt` crate, libvirt-clients for `virsh` (and the
# test hypervisor, built into libvirt0) and openssh-client for the
# unreachable and stalled `qemu+ssh` cases (loopback only). Anything already
# installed is used as it is; only what is missing gets installed, quietly.

drydock_libvirt_apt() {
    local apt_get
    if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    $apt_get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq --no-install-recommends "$@" >/dev/null
}

drydock_libvirt_missing=()
pkg-config --exists libvirt 2>/dev/null || drydock_libvirt_missing+=(libvirt-dev pkg-config)
command -v virsh >/dev/null 2>&1 || drydock_libvirt_missing+=(libvirt-clients)
command -v ssh >/dev/null 2>&1 || drydock_libvirt_missing+=(openssh-client)
if [ "${#drydock_libvirt_missing[@]}" -gt 0 ]; then
    echo "libvirt.sh: installing ${drydock_libvirt_missing[*]}"
    drydock_libvirt_apt "${drydock_libvirt_missing[@]}"
fi
echo "libvirt.sh: libvirt $(pkg-config --modversion libvirt), virsh $(command -v virsh), ssh $(command -v ssh)"
