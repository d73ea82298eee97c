"""sushy (OpenStack's Redfish client library, from PyPI) against the
simulated BMCs: session login, the one-system collection, the boot override
and reset, and the effect on the MaaS side."""

import sushy
from sushy import auth

from conftest import control


def connect(sim, bmc, password="password"):
    base = sim["redfish_urls"][bmc]
    return sushy.Sushy(base + "/redfish/v1/", auth=auth.SessionAuth(username="admin", password=password))


def test_session_boot_override_and_power_on(sim_bmc_ports):
    root = connect(sim_bmc_ports, "node01-bmc")
    systems = root.get_system_collection()
    assert len(systems.members_identities) == 1
    system = root.get_system(systems.members_identities[0])
    assert system.power_state == sushy.SYSTEM_POWER_STATE_OFF
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    system.refresh()
    assert system.boot.target == sushy.BOOT_SOURCE_TARGET_PXE
    system.reset_system(sushy.RESET_ON)
    system.refresh()
    assert system.power_state == sushy.SYSTEM_POWER_STATE_ON
    state = control(sim_bmc_ports, "GET", "/state")
    node01 = [m for m in state["machines"] if m["hostname"] == "node01"][0]
    assert node01["power_state"] == "on"
    log = [r for r in control(sim_bmc_ports, "GET", "/requests") if r["service"] == "redfish"]
    assert log[0]["path"] == "/redfish/v1/"
    logins = [r for r in log if r["method"] == "POST" and r["path"].endswith("/Sessions")]
    assert logins and logins[0]["status"] == 201 and "Password" not in logins[0]["form"]
    assert {r["auth"] for r in log[1:]} <= {"ok"}


def test_wrong_password_is_refused(sim_bmc_ports):
    try:
        connect(sim_bmc_ports, "node02-bmc", password="nope").get_system_collection()
    except (sushy.exceptions.AccessError, sushy.exceptions.ConnectionError) as error:
        assert "401" in str(error) or "Unauthorized" in str(error) or "bad credentials" in str(error)
    else:
        raise AssertionError("login with a wrong password succeeded")
