"""Device credentials made by the api are accepted by a real Mosquitto, and the
device then reads its own ACL."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from api.services.mqtt import MqttPublisher
from devservers import Mosquitto
from protocol import wire
from tests.api.conftest import SITE, Api
from tests.conftest import API_USER


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


def test_provisioned_device_logs_in_and_reads_its_acl(
    mosquitto: Mosquitto, make_api: Callable[..., Api]
) -> None:
    publisher = MqttPublisher(mosquitto.login(API_USER))
    try:
        api = make_api(publisher=publisher)
        created = api.ok(
            "admin", "POST", "/devices", json={"name": "lathe-node", "role": "machine"}
        )
        assert created["mqtt_username"] == "lathe-node" and len(created["mqtt_password"]) >= 20
        api.ok(
            "admin",
            "POST",
            "/machines",
            json={"code": "lathe", "rated_power_w": 2000, "device_id": created["id"]},
        )
        listing = api.ok("admin", "GET", "/devices")
        assert created["mqtt_password"] not in str(listing)  # shown once, never again
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
