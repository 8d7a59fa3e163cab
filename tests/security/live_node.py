"""A machine node of the simulator (the firmware's own code on virtual
hardware) connected to a real broker, on an event loop of its own in a
thread, on the real clock: the api under test runs beside it as it would on
the site server. Its config is what provisioning gives it (the downlink key
from the api)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from devservers import Mosquitto
from firmware.app import Node
from simulator.fleet import Fleet
from simulator.scenario import Scenario
from simulator.vloop import VirtualTimeLoop
from tests.conftest import DEVICE_PASSWORD


class LiveNode:
    def __init__(
        self, broker: Mosquitto, workdir: Path, site: str, device: str, downlink_key: str
    ) -> None:
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        config = {"downlink_key": downlink_key, "telemetry_s": 60, "status_s": 300}
        self.device = device
        self.fleet = Fleet(
            Scenario({
                "site": site, "start": start, "badge_key": "00112233445566778899aabbccddeeff",
                "mqtt": {"host": broker.host, "port": broker.port, "password": DEVICE_PASSWORD},
                "nodes": [{"device": device, "role": "machine", "profile": "laser",
                           "config": config}],
            }),
            workdir,
        )  # fmt: skip
        self.loop = VirtualTimeLoop(speed=1.0, fast_forward=False)  # the real clock
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=f"node-{device}", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.fleet.start()
        await self._stop.wait()
        await self.fleet.shutdown()

    def start(self) -> None:
        self._thread.start()
        self.wait_for(lambda: self.node is not None and self.node.mqtt.connected, 30, "connected")

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.loop.close()

    @property
    def node(self) -> Node | None:
        return self.fleet.node(self.device).node

    def held(self) -> tuple[int, int]:
        """(version, number of badges) of the ACL the node decides with."""
        node = self.node
        if node is None:
            return -1, 0
        acl = node.role.decider.acl
        return acl.ver, len(acl)

    def holds(self, version: int, allow: list[str]) -> bool:
        """Exactly this list at this version (the list is sorted and unique,
        so the same length and every entry allowed is the same list)."""
        node = self.node
        if node is None:
            return False
        acl = node.role.decider.acl
        return acl.ver == version and len(acl) == len(allow) and all(map(acl.allows, allow))

    def allowed(self, badge: str) -> bool:
        node = self.node
        return node is not None and bool(node.role.decider.allowed(badge))

    @staticmethod
    def wait_for(cond: Any, seconds: float, what: str) -> float:
        """Real seconds until cond() holds; AssertionError after `seconds`."""
        started = time.monotonic()
        while not cond():
            if time.monotonic() - started > seconds:
                raise AssertionError(f"not within {seconds} s: {what}")
            time.sleep(0.05)
        return time.monotonic() - started
