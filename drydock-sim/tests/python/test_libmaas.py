"""python-libmaas 0.6.8 (from PyPI, written by Canonical) against the
running drydock-sim binary: the simulator must be faithful enough that an
independent MaaS client works without knowing it is talking to a fake."""

import pytest
from maas.client.enum import NodeStatus
from maas.client.viscera.machines import MachineNotFound

from conftest import control


def machine_named(client, hostname):
    matches = [m for m in client.machines.list() if m.hostname == hostname]
    assert len(matches) == 1, [m.hostname for m in client.machines.list()]
    return matches[0]


def test_login_and_whoami(client):
    assert client.users.whoami().username == "admin"


def test_bad_api_key_is_refused(sim):
    from maas.client import connect
    from maas.client.bones import CallError

    bad = connect(sim["maas_url"] + "/", apikey="cKeyAAAAAAAAAAAAAA:tKeyBBBBBBBBBBBBBB:wrong")
    with pytest.raises(CallError) as excinfo:
        bad.machines.list()
    assert excinfo.value.status == 401
    log = control(sim, "GET", "/requests")
    assert log[-1]["auth"] == "failed" and log[-1]["status"] == 401


def test_list_machines(client):
    machines = {m.hostname: m for m in client.machines.list()}
    assert sorted(machines) == ["node01", "node02", "node03"]
    node01 = machines["node01"]
    assert node01.status == NodeStatus.READY
    assert node01.status_name == "Ready"
    assert node01.cpus == 8 and node01.memory == 16384
    assert node01.architecture == "amd64/generic"
    assert machines["node03"].status == NodeStatus.NEW
    assert node01.power_type == "redfish"
    params = node01.get_power_parameters()
    assert params["power_address"] == "10.23.104.11"


def test_machine_interfaces(client):
    node01 = machine_named(client, "node01")
    interfaces = {i.name: i for i in node01.interfaces}
    assert sorted(interfaces) == ["eno1", "enp2s0"]
    eno1 = interfaces["eno1"]
    assert eno1.mac_address == "52:54:00:00:01:01"
    assert eno1.vlan.vid == 0
    assert eno1.vlan.fabric.id == 0
    links = list(eno1.links)
    assert len(links) == 1
    assert links[0].mode.value == "auto"
    assert links[0].subnet.cidr == "172.16.1.0/24"
    assert node01.boot_interface.name == "eno1"
    # The same data read through the interfaces endpoint.
    again = client._origin.Interfaces.read(node01)
    assert sorted(i.name for i in again) == ["eno1", "enp2s0"]


def test_machine_block_devices(client):
    node01 = machine_named(client, "node01")
    devices = {d.name: d for d in node01.block_devices}
    assert sorted(devices) == ["sda", "sdb"]
    sda = devices["sda"]
    assert sda.size == 480103981056
    assert sda.model == "SSD 480"
    # Default flat layout after commissioning: one root partition.
    parts = list(sda.partitions)
    assert len(parts) == 1
    assert parts[0].filesystem.fstype == "ext4"
    assert parts[0].filesystem.mount_point == "/"
    # 5 MiB table + 1 MiB bios_grub (amd64, not UEFI), aligned to 4 MiB.
    mib = 1024 * 1024
    assert parts[0].size == (480103981056 - 6 * mib) // (4 * mib) * (4 * mib)
    assert devices["sdb"].used_for == "Unused"
    read = client._origin.BlockDevices.read(node01)
    assert sorted(d.name for d in read) == ["sda", "sdb"]
    node02 = machine_named(client, "node02")
    efi = [p for p in next(iter(node02.block_devices)).partitions if p.filesystem.mount_point == "/boot/efi"]
    assert len(efi) == 1 and efi[0].size == 512 * mib


def test_fabrics_vlans_subnets(client):
    fabrics = {f.name: f for f in client.fabrics.list()}
    assert sorted(fabrics) == ["fabric-0", "fabric-data"]
    data_vlans = {v.vid: v for v in fabrics["fabric-data"].vlans}
    assert sorted(data_vlans) == [0, 100]
    assert data_vlans[100].mtu == 9000
    subnets = {s.cidr: s for s in client.subnets.list()}
    assert sorted(subnets) == ["10.10.100.0/24", "172.16.1.0/24"]
    assert subnets["10.10.100.0/24"].vlan.vid == 100
    assert subnets["172.16.1.0/24"].gateway_ip == "172.16.1.1"
    vlan = client._origin.Vlan.read(fabrics["fabric-data"], 100)
    assert [v.vid for v in client._origin.Vlans.read(fabrics["fabric-data"])] == [0, 100]
    assert vlan.mtu == 9000


def test_allocate_deploy_release(client, sim):
    machine = client.machines.allocate(hostname="node01")
    assert machine.hostname == "node01"
    assert machine.status == NodeStatus.ALLOCATED
    assert machine.owner.username == "admin"
    machine.deploy(distro_series="focal", user_data=b"#cloud-config\n")
    assert machine.status == NodeStatus.DEPLOYING
    machine.refresh()
    assert machine.status == NodeStatus.DEPLOYED
    assert machine.distro_series == "focal"
    ips = [l.ip_address for i in machine.interfaces for l in i.links if l.ip_address]
    assert ips == ["172.16.1.2"]
    assert control(sim, "GET", "/machines/%s/user_data" % machine.system_id) == "#cloud-config\n"
    machine.release()
    assert machine.status == NodeStatus.RELEASING
    machine.refresh()
    assert machine.status == NodeStatus.READY
    assert machine.owner is None
    log = control(sim, "GET", "/requests")
    ops = [(r["method"], r["op"]) for r in log if r["path"].endswith("/machines/%s/" % machine.system_id)]
    assert ("POST", "deploy") in ops and ("POST", "release") in ops
    deploy = [r for r in log if r["op"] == "deploy"][0]
    assert deploy["form"]["distro_series"] == ["focal"]


def test_allocate_nothing_available(client):
    with pytest.raises(MachineNotFound):
        client.machines.allocate(hostname="node03")


def test_commission_fails_then_passes(client):
    node03 = machine_named(client, "node03")
    node03.commission()
    node03.refresh()
    assert node03.status == NodeStatus.FAILED_COMMISSIONING
    node03.commission()
    node03.refresh()
    assert node03.status == NodeStatus.READY


def test_tags(client):
    tag = client.tags.create(name="gpu", comment="has a GPU")
    node02 = machine_named(client, "node02")
    result = tag._handler.update_nodes(name="gpu", add=[node02.system_id])
    assert result == {"added": 1, "removed": 0}
    assert "gpu" in [t.name for t in machine_named(client, "node02").tags]
    assert sorted(t.name for t in client.tags.list()) == ["gpu"]


def test_injected_faults_reach_the_client_and_the_log(client, sim):
    from maas.client.bones import CallError

    control(sim, "POST", "/faults", {"kind": "status", "method": "GET", "path_regex": "/machines/$", "status": 503, "times": 1})
    with pytest.raises(CallError) as excinfo:
        client.machines.list()
    assert excinfo.value.status == 503
    assert len(client.machines.list()) == 3
    control(sim, "POST", "/faults", {"kind": "vanish_fabrics", "times": 1})
    assert list(client.fabrics.list()) == []
    assert len(client.fabrics.list()) == 2
    faults = [r["fault"] for r in control(sim, "GET", "/requests") if r["fault"]]
    assert faults == ["status 503", "vanish_fabrics"]


def test_enlist_and_delete_a_machine(client):
    created = client.machines.create(
        "amd64",
        ["52:54:00:00:09:01"],
        "ipmi",
        power_parameters={"power_address": "10.23.104.99", "power_user": "root"},
        hostname="node09",
    )
    assert created.status == NodeStatus.NEW
    assert created.get_power_parameters()["power_address"] == "10.23.104.99"
    assert [i.mac_address for i in created.interfaces] == ["52:54:00:00:09:01"]
    created.delete()
    assert "node09" not in [m.hostname for m in client.machines.list()]
