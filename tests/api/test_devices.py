"""Devices added, reset and retired through the api reach a real Mosquitto at
once (the shipped configuration, dynamic security, no restart): the device
logs in with the password the api printed, writes only its own topics, reads
its ACL; a reset password and a retired device stop working. With
API_DEVICE_LOGINS=manual the admin exports the password file."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import SecretStr

from api.services.mqtt import MqttPublisher
from broker import MqttSettings
from devservers import Mosquitto, SiteMosquitto
from devservers.process import free_port
from protocol import wire
from tests.api.conftest import SITE, Api
from tests.broker.probe import Probe
from tests.conftest import API_USER, OBSERVER, SERVICE_PASSWORDS


def _connect(broker: Mosquitto, user: str, password: str) -> tuple[int, queue.Queue[bytes]]:
    result: queue.Queue[int] = queue.Queue()
    messages: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{password[:4]}")
    client.username_pw_set(user, password)

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        result.put(reason.value)
        if reason.value == 0:
            c.subscribe(wire.topic(SITE, user, "acl"), qos=1)

    client.on_connect = on_connect
    client.on_message = lambda _c, _u, m: messages.put(m.payload)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        code = result.get(timeout=5)
        if code == 0:
            messages.put(messages.get(timeout=5))
    finally:
        client.loop_stop()
        client.disconnect()
    return code, messages


def _device(broker: SiteMosquitto, name: str, password: str) -> Probe:
    return Probe(MqttSettings(mqtt_host=broker.host, mqtt_port=broker.port, mqtt_username=name,
                              mqtt_password=SecretStr(password)), name)


def _dynsec_api(make_api: Callable[..., Api], broker: SiteMosquitto,
                publisher: MqttPublisher) -> Api:
    return make_api(publisher=publisher, device_logins="dynsec", mqtt_host=broker.host,
                    mqtt_port=broker.port, mqtt_username="api",
                    mqtt_password=SERVICE_PASSWORDS["api"])


def test_a_device_added_through_the_api_logs_in_at_once(
    site_mosquitto: SiteMosquitto, make_api: Callable[..., Api]
) -> None:
    assert site_mosquitto.proc is not None
    pid = site_mosquitto.proc.pid
    publisher = MqttPublisher(site_mosquitto.login("api"))
    observer = Probe(site_mosquitto.login(OBSERVER))
    try:
        api = _dynsec_api(make_api, site_mosquitto, publisher)
        assert observer.connect().value == 0 and observer.subscribe("mf/#")
        created = api.ok("admin", "POST", "/devices",
                         json={"name": "lathe-node", "role": "machine"})
        assert created["mqtt_username"] == "lathe-node" and len(created["mqtt_password"]) >= 20
        with _device(site_mosquitto, "lathe-node", created["mqtt_password"]) as lathe:
            assert lathe.connect().value == 0  # at once: no reload, no retry
            assert lathe.subscribe(wire.topic(SITE, "lathe-node", "acl"))
            api.ok("admin", "POST", "/machines",
                   json={"code": "lathe", "rated_power_w": 2000, "device_id": created["id"]})
            acl = lathe.messages.get(timeout=5)
            assert wire.decode("acl", acl.payload)["allow"] == []
            assert lathe.publish(wire.topic(SITE, "lathe-node", "telemetry"), b"mine")
            assert not lathe.publish(wire.topic(SITE, "node1", "telemetry"), b"not mine")
            assert not lathe.publish(wire.topic("elsewhere", "lathe-node", "telemetry"), b"x")
            assert not lathe.subscribe(wire.topic(SITE, "node1", "acl"))
        arrived = [(t, p) for t, p in observer.received() if not t.endswith("/acl")]
        assert arrived == [(wire.topic(SITE, "lathe-node", "telemetry"), b"mine")]
        listing = api.ok("admin", "GET", "/devices")
        assert created["mqtt_password"] not in str(listing)  # shown once, never again
        assert [d["revoked_at"] for d in listing] == [None]
    finally:
        observer.close()
        publisher.close()
    assert site_mosquitto.proc.pid == pid


def test_a_reset_password_replaces_the_old_one_and_retiring_locks_out(
    site_mosquitto: SiteMosquitto, make_api: Callable[..., Api]
) -> None:
    publisher = MqttPublisher(site_mosquitto.login("api"))
    try:
        api = _dynsec_api(make_api, site_mosquitto, publisher)
        created = api.ok("admin", "POST", "/devices", json={"name": "kiln", "role": "machine"})
        old = created["mqtt_password"]
        with _device(site_mosquitto, "kiln", old) as session:
            assert session.connect().value == 0
            reset = api.ok("admin", "POST", f"/devices/{created['id']}/password")
            assert reset["mqtt_password"] != old
            assert session.disconnected.wait(5), "the old password's session outlived the reset"
        assert _device(site_mosquitto, "kiln", old).connect().is_failure
        with _device(site_mosquitto, "kiln", reset["mqtt_password"]) as session:
            assert session.connect().value == 0
            retired = api.ok("admin", "DELETE", f"/devices/{created['id']}")
            assert retired["revoked_at"] is not None
            assert session.disconnected.wait(5), "a retired device stayed connected"
        assert _device(site_mosquitto, "kiln", reset["mqtt_password"]).connect().is_failure
        before = api.counts()
        again = api.call("admin", "POST", f"/devices/{created['id']}/password")
        assert again.status_code == 409 and "retired" in again.json()["detail"]
        assert api.call("admin", "DELETE", f"/devices/{created['id']}").status_code == 409
        taken = api.call("admin", "POST", "/devices", json={"name": "kiln", "role": "machine"})
        assert taken.status_code == 409
        assert api.counts() == before
        assert api.call("coordinator", "DELETE", f"/devices/{created['id']}").status_code == 403
        assert api.call("admin", "GET", "/devices/passwd").text == ""
    finally:
        publisher.close()


def test_without_the_broker_nothing_is_stored(make_api: Callable[..., Api]) -> None:
    """The broker unreachable, or a name that is a service's login: refused
    with the reason, no row written."""
    api = make_api(device_logins="dynsec", mqtt_port=free_port(), mqtt_timeout_s=1)
    before = api.counts()
    refused = api.call("admin", "POST", "/devices", json={"name": "n1", "role": "machine"})
    assert refused.status_code == 503 and "unreachable" in refused.json()["detail"]
    for login in ("gateway", "api", "alerts", "health"):
        taken = api.call("admin", "POST", "/devices", json={"name": login, "role": "meter"})
        assert taken.status_code == 422 and "service's broker login" in taken.json()["detail"]
    assert api.counts() == before


def test_manual_logins_export_the_password_file(
    mosquitto: Mosquitto, make_api: Callable[..., Api]
) -> None:
    """API_DEVICE_LOGINS=manual: a broker with a password file; the admin adds
    the exported lines and reloads it (SIGHUP)."""
    publisher = MqttPublisher(mosquitto.login(API_USER))
    try:
        api = make_api(publisher=publisher)
        created = api.ok(
            "admin", "POST", "/devices", json={"name": "lathe-node", "role": "machine"}
        )
        api.ok(
            "admin",
            "POST",
            "/machines",
            json={"code": "lathe", "rated_power_w": 2000, "device_id": created["id"]},
        )
        lines = api.call("admin", "GET", "/devices/passwd")
        assert lines.status_code == 200 and lines.text.startswith("lathe-node:$7$")
        assert api.call("coordinator", "GET", "/devices/passwd").status_code == 403
        with (mosquitto.workdir / "passwd").open("a") as passwd:
            passwd.write(lines.text)
        assert mosquitto.proc is not None
        mosquitto.proc.send_signal(1)  # reload the password file
        for _ in range(50):  # the reload is asynchronous
            accepted, messages = _connect(mosquitto, "lathe-node", created["mqtt_password"])
            if accepted == 0:
                break
            time.sleep(0.1)
        assert accepted == 0
        refused, _ = _connect(mosquitto, "lathe-node", "wrong-password")
        assert refused != 0
        assert wire.decode("acl", messages.get(timeout=1))["allow"] == []
    finally:
        publisher.close()
