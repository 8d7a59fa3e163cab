"""Shared pieces of the simulator tests: a scenario for nodes node1..node8
(the test broker's device logins), an MQTT observer, and a runner for
coroutines on the virtual-time loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt

from devservers import Mosquitto
from protocol import wire
from simulator.fleet import Fleet, SimNode
from simulator.scenario import Scenario
from simulator.vloop import VirtualTimeLoop
from tests.conftest import DEVICE_PASSWORD, TEST_PASSWORD, TEST_USER

T = TypeVar("T")
MEMBERS = {"alice": "04:a1:b2:c3", "bob": "04:d4:e5:f6", "carla": "04:11:22:33"}


def scenario(broker: Mosquitto, nodes: list[dict[str, Any]], **extra: Any) -> Scenario:
    # Two days ago, so that the node's timestamps are plausible "now" for the
    # server even after a simulated day.
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 86400))
    data: dict[str, Any] = {
        "site": "test",
        "start": start,
        "base_load_w": 300,
        "badge_key": "00112233445566778899aabbccddeeff",
        "downlink_key": "test-site-downlink-master",
        "mqtt": {"host": broker.host, "port": broker.port, "password": DEVICE_PASSWORD},
        "members": MEMBERS,
        "nodes": nodes,
    }
    data.update(extra)
    return Scenario(data)


def run(loop: VirtualTimeLoop, coro: Awaitable[T]) -> T:
    return loop.run_until_complete(coro)


async def until(cond: Callable[[], bool], virtual_s: float, what: str,
                real_s: float = 120.0) -> float:
    """Wait (virtual time) for a condition; -> virtual seconds it took."""
    loop = asyncio.get_running_loop()
    start, real_start = loop.time(), time.monotonic()
    while not cond():
        if loop.time() - start > virtual_s or time.monotonic() - real_start > real_s:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return loop.time() - start


class Observer:
    """A superuser subscribed to mf/#, counting what arrives per topic."""

    def __init__(self, broker: Mosquitto) -> None:
        self.messages: list[tuple[str, bytes, float]] = []
        self.lock = threading.Lock()
        # A persistent session: the broker keeps what arrives while this
        # client is reconnecting after a broker restart.
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="observer",
                                  clean_session=False)
        self.client.reconnect_delay_set(1, 1)
        self.client.username_pw_set(TEST_USER, TEST_PASSWORD)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("mf/#", 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), time.monotonic()))

    def decoded(self, device: str, channel: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = list(self.messages)
        out = []
        for topic, payload, _ in rows:
            if wire.parse_topic(topic)[1:] == (device, channel):
                out.append(wire.decode(channel, payload))
        return out

    def wait_for(self, cond: Callable[[], bool], real_s: float = 20.0) -> bool:
        deadline = time.monotonic() + real_s
        while not cond():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def publish_acl(self, scenario: Scenario, device: str, ver: int, hashes: list[str]) -> None:
        """The allow-list as the api sends it: signed with the node's key."""
        payload = scenario.sealed(device, "acl", wire.acl(ver, hashes))
        self.publish_retained(wire.topic(scenario.site, device, "acl"), payload)

    def publish_retained(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def laser_for_alice(broker: Mosquitto, workdir: Path) -> tuple[Observer, Fleet]:
    """node1, a laser sampled every 2 s, with alice on its retained ACL (version 1)."""
    observer = Observer(broker)
    fleet = Fleet(scenario(broker, [machine("node1", sample_ms=2000)]), workdir)
    observer.publish_acl(fleet.scenario, "node1", 1, [fleet.member_hash("alice")])
    return observer, fleet


async def alice_badged_in(fleet: Fleet) -> SimNode:
    """Power the fleet of `laser_for_alice`; once node1 has its ACL, alice taps in."""
    fleet.start()
    sim = fleet.node("node1")
    await acl_version(sim, 1, 120)
    fleet.tap("node1", "alice")
    return sim


async def acl_version(sim: SimNode, ver: int, virtual_s: float) -> None:
    """Until the node runs with ACL version `ver`."""
    await until(lambda: sim.node is not None and sim.node.role.decider.acl.ver == ver,
                virtual_s, f"ACL version {ver}")


def machine(device: str, **config: Any) -> dict[str, Any]:
    base = {"telemetry_s": 60, "idle_s": 0, "timeout_s": 200000, "runon_s": 0}
    base.update(config)
    return {"device": device, "role": "machine", "profile": "laser", "config": base}
