"""broker.accounts and broker.control against a real Mosquitto 2.0 running the
shipped configuration with the dynamic-security plugin: each login may touch
only its own topics, and device logins change at run time, without a restart."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from broker import MqttSettings, PasswordHash
from broker.accounts import (
    SERVICE_LOGINS,
    grant_commands,
    lookup_commands,
    merged,
    revoke_commands,
    service_accounts,
)
from broker.control import ControlError, DynsecControl
from devservers import SiteMosquitto
from devservers.process import find_binary, free_port
from protocol import wire
from tests.broker.probe import Probe
from tests.conftest import (
    DEVICE_PASSWORD,
    OBSERVER,
    SERVICE_PASSWORDS,
    SITE_BROKER_SITE,
)

SITE = SITE_BROKER_SITE


def as_user(broker: SiteMosquitto, user: str, password: str) -> MqttSettings:
    return MqttSettings(mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=user,
                        mqtt_password=SecretStr(password))


@pytest.fixture
def observer(site_mosquitto: SiteMosquitto) -> Iterator[Probe]:
    with Probe(site_mosquitto.login(OBSERVER)) as probe:
        assert probe.connect().value == 0
        assert probe.subscribe("#")
        yield probe


def test_the_hash_is_mosquittos_own(tmp_path: pytest.TempPathFactory) -> None:
    """mosquitto_passwd's line parses, matches its password and no other, and
    prints back the same; the plugin's fields carry the same three values."""
    passwd = tmp_path / "passwd"  # type: ignore[operator]
    tool = find_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
    subprocess.run([tool, "-c", "-b", str(passwd), "dev", "s3cret"], check=True)
    field = passwd.read_text().strip().split(":", 1)[1]
    parsed = PasswordHash.from_passwd_field(field)
    assert parsed.matches("s3cret") and not parsed.matches("s3cret ")
    assert parsed.passwd_field() == field
    assert PasswordHash.from_dynsec(parsed.dynsec_fields()) == parsed
    with pytest.raises(ValueError, match=r"\$7\$"):
        PasswordHash.from_passwd_field("$6$abc$def")


def test_the_service_file_is_stable_and_changes_with_a_password() -> None:
    first = service_accounts(SERVICE_PASSWORDS, SITE)
    assert service_accounts(SERVICE_PASSWORDS, SITE, first) == first
    changed = service_accounts({**SERVICE_PASSWORDS, "alerts": "new"}, SITE, first)
    differ = [a["username"] for a, b in zip(first["clients"], changed["clients"], strict=True)
              if a != b]
    assert differ == ["alerts"]
    with pytest.raises(ValueError, match="health"):
        service_accounts({k: v for k, v in SERVICE_PASSWORDS.items() if k != "health"}, SITE)


def test_merging_keeps_the_devices_and_replaces_the_services() -> None:
    live = service_accounts(SERVICE_PASSWORDS, SITE)
    live["clients"].append({"username": "lathe", "roles": [{"rolename": "device-lathe"}]})
    live["roles"].append({"rolename": "device-lathe", "acls": []})
    seed = service_accounts({**SERVICE_PASSWORDS, "api": "rotated"}, SITE)
    result = merged(live, seed)
    names = [c["username"] for c in result["clients"]]
    assert names == [*SERVICE_LOGINS, "lathe"]
    api = next(c for c in result["clients"] if c["username"] == "api")
    assert PasswordHash.from_dynsec(api).matches("rotated")  # type: ignore[union-attr]
    assert "device-lathe" in [r["rolename"] for r in result["roles"]]


def test_each_service_login_touches_only_its_topics(
    site_mosquitto: SiteMosquitto, observer: Probe
) -> None:
    node = wire.topic(SITE, "node1", "telemetry")
    acl = wire.topic(SITE, "node1", "acl")
    marker = wire.API_PREFIX + "/marker/probe"
    allowed = {
        "gateway": {"sub": ["mf/+/+/+", "$share/gateway/mf/+/+/+"],
                    "pub": [wire.deadletter_topic(node)]},
        # The sweep reads the site's retained ACLs, ended by its own marker.
        "api": {"sub": ["$CONTROL/dynamic-security/v1/response", wire.topic_filter(SITE, "acl"),
                        marker],
                "pub": [acl, wire.topic(SITE, "node1", "cmd"), marker]},
        "alerts": {"sub": [wire.gateway_status_topic("+")], "pub": [f"mf-alerts/{SITE}"]},
        "health": {"sub": ["$SYS/broker/uptime", "$SYS/#"], "pub": []},
        "alerts-reader": {"sub": [f"mf-alerts/{SITE}", "mf-alerts/#"], "pub": []},
    }
    refused = {
        "gateway": {"sub": ["#", "$SYS/#"], "pub": [acl, node, "mf-alerts/x", marker]},
        "api": {"sub": ["mf/#", "#", wire.topic_filter("other", "acl"),
                        wire.topic_filter(SITE, "telemetry")],
                "pub": [node, wire.topic("other", "node1", "acl"), "mf-alerts/x"]},
        "alerts": {"sub": ["#", "mf/#", "mf-gateway/#", wire.gateway_status_topic("gw")],
                   "pub": [acl, node, wire.gateway_status_topic("gw")]},
        "health": {"sub": ["#", "mf/#", "$CONTROL/#"], "pub": [node, "$SYS/x", acl]},
        "alerts-reader": {"sub": ["#", "mf/#", "$SYS/#", "$CONTROL/#"],
                          "pub": [f"mf-alerts/{SITE}", node, acl]},
    }
    assert set(allowed) == set(SERVICE_LOGINS)
    for login in SERVICE_LOGINS:
        with Probe(site_mosquitto.login(login)) as probe:
            assert probe.connect().value == 0, login
            for topic in allowed[login]["sub"]:
                assert probe.subscribe(topic), (login, topic)
            for topic in refused[login]["sub"]:
                assert not probe.subscribe(topic), (login, topic)
            for topic in allowed[login]["pub"]:
                assert probe.publish(topic, login.encode()), (login, topic)
            for topic in refused[login]["pub"]:
                assert not probe.publish(topic, login.encode()), (login, topic)
    arrived = sorted(observer.received())
    expected = sorted((t, login.encode()) for login in SERVICE_LOGINS
                      for t in allowed[login]["pub"])
    assert arrived == expected
    with Probe(site_mosquitto.login("health")) as health:
        health.connect()
        assert health.subscribe("$SYS/broker/uptime")
        assert health.received(timeout=5)[0][0] == "$SYS/broker/uptime"


def test_the_alerts_reader_gets_what_the_alerts_send(site_mosquitto: SiteMosquitto) -> None:
    """The MQTT channel of the alerts has a reader on the shipped broker: without
    one, no login could receive a notice (the plugin refuses by default)."""
    with Probe(site_mosquitto.login("alerts-reader")) as reader:
        assert reader.connect().value == 0 and reader.subscribe("mf-alerts/#")
        with Probe(site_mosquitto.login("alerts")) as alerts:
            assert alerts.connect().value == 0
            assert alerts.publish(f"mf-alerts/{SITE}", b'{"event": "fired"}')
        assert reader.received() == [(f"mf-alerts/{SITE}", b'{"event": "fired"}')]


def test_a_device_writes_its_uplink_and_reads_its_downlink_only(
    site_mosquitto: SiteMosquitto, observer: Probe
) -> None:
    with Probe(as_user(site_mosquitto, "node1", DEVICE_PASSWORD), "node1") as device:
        assert device.connect().value == 0
        for channel in wire.UPLINK:
            assert device.publish(wire.topic(SITE, "node1", channel))
        for topic in (wire.topic(SITE, "node2", "telemetry"), wire.topic("other", "node1", "event"),
                      wire.topic(SITE, "node1", "acl"), "mf-alerts/x"):
            assert not device.publish(topic), topic
        for channel in wire.DOWNLINK:
            assert device.subscribe(wire.topic(SITE, "node1", channel))
        for topic in (wire.topic(SITE, "node2", "acl"), f"mf/{SITE}/node1/+", "mf/#"):
            assert not device.subscribe(topic), topic
    assert sorted(t for t, _ in observer.received()) == sorted(
        wire.topic(SITE, "node1", channel) for channel in wire.UPLINK)


def _grant(control: DynsecControl, device: str, password: str) -> None:
    found = control.run(lookup_commands(device), tolerate=("Client not found", "Role not found"))
    control.run(grant_commands(SITE, device, password, found))


def test_device_logins_change_at_run_time(site_mosquitto: SiteMosquitto, observer: Probe) -> None:
    assert site_mosquitto.proc is not None
    pid = site_mosquitto.proc.pid
    control = site_mosquitto.control()
    try:
        _grant(control, "lathe", "first-password")
        with Probe(as_user(site_mosquitto, "lathe", "first-password"), "lathe") as lathe:
            assert lathe.connect().value == 0
            assert lathe.publish(wire.topic(SITE, "lathe", "telemetry"), b"1")
            assert not lathe.publish(wire.topic(SITE, "node1", "telemetry"), b"2")
            _grant(control, "lathe", "second-password")  # a reset
            assert lathe.disconnected.wait(5), "the old session outlived the reset"
        refused = Probe(as_user(site_mosquitto, "lathe", "first-password"))
        assert refused.connect().is_failure
        with Probe(as_user(site_mosquitto, "lathe", "second-password")) as again:
            assert again.connect().value == 0
            control.run(revoke_commands("lathe"))
            assert again.disconnected.wait(5), "a retired device stayed connected"
        assert Probe(as_user(site_mosquitto, "lathe", "second-password")).connect().is_failure
        _grant(control, "lathe", "third-password")  # brought back: enabled again
        with Probe(as_user(site_mosquitto, "lathe", "third-password")) as back:
            assert back.connect().value == 0
    finally:
        control.close()
    assert observer.received() == [(wire.topic(SITE, "lathe", "telemetry"), b"1")]
    assert site_mosquitto.proc.pid == pid and site_mosquitto.running
    # The plugin kept the change in its file: a restart keeps the device.
    saved = json.loads(site_mosquitto.accounts_file.read_text())
    assert "lathe" in [c["username"] for c in saved["clients"]]


def test_a_grant_repairs_a_role_and_a_client_it_finds_changed(
    site_mosquitto: SiteMosquitto,
) -> None:
    control = site_mosquitto.control()
    try:
        control.run([
            {"command": "createRole", "rolename": "device-kiln", "acls": [
                {"acltype": "publishClientSend", "topic": "#", "allow": True}]},
            {"command": "createClient", "username": "kiln", "password": "x"},
            {"command": "disableClient", "username": "kiln"},
        ])
        _grant(control, "kiln", "kiln-password")
        role = control.run([{"command": "getRole", "rolename": "device-kiln"}])[0]
        topics = {(a["acltype"], a["topic"]) for a in role["data"]["role"]["acls"]}
        assert ("publishClientSend", "#") not in topics
        assert ("publishClientSend", wire.topic(SITE, "kiln", "status")) in topics
        assert _grant_is_complete(control, "kiln")
    finally:
        control.close()
    with Probe(as_user(site_mosquitto, "kiln", "kiln-password")) as kiln:
        assert kiln.connect().value == 0
        assert not kiln.publish("mf-alerts/x")


def _grant_is_complete(control: DynsecControl, device: str) -> bool:
    found = control.run(lookup_commands(device))
    return grant_commands(SITE, device, "any", found) == [
        {"command": "setClientPassword", "username": device, "password": "any"}]


def test_control_errors_name_the_problem(site_mosquitto: SiteMosquitto) -> None:
    nobody = DynsecControl(MqttSettings(mqtt_port=free_port()), timeout_s=1)
    with pytest.raises(ControlError, match="unreachable"):
        nobody.run(revoke_commands("x"))
    gateway = DynsecControl(site_mosquitto.login("gateway"), timeout_s=2)
    try:
        with pytest.raises(ControlError, match="no admin role"):
            gateway.run(revoke_commands("x"))
    finally:
        gateway.close()
    api = site_mosquitto.control()
    try:
        with pytest.raises(ControlError, match="disableClient: Client not found"):
            api.run(revoke_commands("ghost"))
        assert api.run(revoke_commands("ghost"), tolerate=("Client not found",))
    finally:
        api.close()
    started = time.monotonic()
    wrong = DynsecControl(as_user(site_mosquitto, "api", "wrong"), timeout_s=2)
    try:
        with pytest.raises(ControlError, match="refused the login"):
            wrong.run(revoke_commands("x"))
    finally:
        wrong.close()
    assert time.monotonic() - started < 5
