"""A command from the api reaches the node (the firmware's own code, a real
Mosquitto) signed with the node's key and acted on; the same message put on
the broker again, before or after a reboot of the node, is refused and
reported, and so is one signed with a key that is not the node's."""

from __future__ import annotations

import queue
from typing import Any

import paho.mqtt.client as mqtt

from devservers import Mosquitto
from protocol import sign, wire
from tests.api.conftest import SITE, database_url, pg_server  # noqa: F401 (fixtures)
from tests.conftest import TEST_PASSWORD, TEST_USER
from tests.security.live_node import DEVICE, LiveNode, Served, live_node, served  # noqa: F401

CMD = wire.topic(SITE, DEVICE, "cmd")
EVENT = wire.topic(SITE, DEVICE, "event")


class Intruder:
    """A client with the broker's run of the place: it records the node's
    commands and events and puts messages of its choosing on any topic."""

    def __init__(self, broker: Mosquitto) -> None:
        self.commands: queue.Queue[bytes] = queue.Queue()
        self.refusals: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder")
        self.client.username_pw_set(TEST_USER, TEST_PASSWORD)
        self.client.on_message = self._message
        subscribed: queue.Queue[int] = queue.Queue()
        self.client.on_subscribe = lambda *_a: subscribed.put(1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe([(CMD, 1), (EVENT, 1)])
        subscribed.get(timeout=5)

    def _message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == CMD:
            self.commands.put(bytes(message.payload))
            return
        event = wire.decode("event", message.payload)
        if event["kind"] == "refused":
            self.refusals.put(event)

    def send(self, payload: bytes) -> None:
        self.client.publish(CMD, payload, qos=1).wait_for_publish(5)

    def refusal(self) -> str:
        return str(self.refusals.get(timeout=30)["reason"])

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _session(node: LiveNode) -> None:
    node.tap_master()
    node.wait_for(node.interlock_closed, 10, "the interlock closed by the master badge")


def test_a_command_is_taken_once(
    served: Served, live_node: LiveNode, mosquitto: Mosquitto  # noqa: F811
) -> None:
    api = served.start(first=True)
    device = api.ok("admin", "POST", "/devices", json={"name": DEVICE, "role": "machine"})["id"]
    intruder = Intruder(mosquitto)
    try:
        live_node.start()
        _session(live_node)
        sent = api.ok("admin", "POST", f"/devices/{device}/commands", json={"op": "relay_off"})
        assert sent["op"] == "relay_off" and sent["device"] == DEVICE
        live_node.wait_for(lambda: not live_node.interlock_closed(), 10, "relay off")
        captured = intruder.commands.get(timeout=5)
        assert wire.decode("cmd", captured)["ver"] == sent["version"]

        _session(live_node)  # the member badges in again
        intruder.send(captured)  # the command as it went out, once more
        assert intruder.refusal() == "cmd_stale"
        forged = sign.seal("cmd", bytes(32), wire.cmd("relay_off", 1, sent["version"] + 1))
        intruder.send(forged)
        assert intruder.refusal() == "cmd_bad_mac"
        assert live_node.interlock_closed()

        live_node.loop.call_soon_threadsafe(_reboot, live_node)
        live_node.wait_for(lambda: live_node.node is not None and live_node.node.mqtt.connected,
                           30, "the node back after a reboot")
        _session(live_node)
        intruder.send(captured)
        assert intruder.refusal() == "cmd_stale"  # the version taken is on flash
        assert live_node.interlock_closed()
        api.ok("admin", "POST", f"/devices/{device}/commands", json={"op": "relay_off"})
        live_node.wait_for(lambda: not live_node.interlock_closed(), 10, "the next relay off")
        commands = [e for e in api.ok("admin", "GET", "/audit") if e["action"] == "command"]
        assert len(commands) == 2  # each command sent is in the audit log
    finally:
        intruder.close()


def _reboot(node: LiveNode) -> None:
    sim = node.fleet.node(DEVICE)
    sim.power_cut()
    sim.power_on()

