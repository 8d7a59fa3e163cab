"""The site server and a node, live, for the attacks of tests/security: the
api app on a real database with a real broker publisher (started, stopped and
restarted as the server would be), and a machine node of the simulator (the
firmware's own code on virtual hardware) connected to the real broker on an
event loop of its own in a thread, on the real clock. The node's config is
what provisioning gives it (its downlink key from the api)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from api.models import Machine, Site
from api.services import acl, downlink
from api.services.acl import AclPush
from api.services.audit import Auditor
from api.services.broker_logins import ManualLogins
from api.services.mqtt import MqttPublisher
from api.services.work import Work
from devservers import Mosquitto
from firmware.app import Node
from protocol.badge import badge_hash, uid_from_hex
from simulator.fleet import Fleet
from simulator.scenario import Scenario
from simulator.vloop import VirtualTimeLoop
from tests.api.conftest import SITE, Api, make_settings
from tests.conftest import API_USER, DEVICE_PASSWORD

MASTER = "test-site-downlink-master-secret"
DEVICE = "node1"
# The node's own badge key and a master badge of its config: a session can
# start on it whatever the api's list says.
NODE_BADGE_KEY = "00112233445566778899aabbccddeeff"
MASTER_UID = "04:ee:ee:ee"


class LiveNode:
    def __init__(
        self, broker: Mosquitto, workdir: Path, site: str, device: str, downlink_key: str
    ) -> None:
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        master = badge_hash(bytes.fromhex(NODE_BADGE_KEY), uid_from_hex(MASTER_UID))
        config = {"downlink_key": downlink_key, "telemetry_s": 60, "status_s": 300,
                  "master": [master]}
        self.device = device
        self.fleet = Fleet(
            Scenario({
                "site": site, "start": start, "badge_key": NODE_BADGE_KEY,
                "mqtt": {"host": broker.host, "port": broker.port, "password": DEVICE_PASSWORD},
                "members": {"master": MASTER_UID},
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

    def tap_master(self) -> None:
        """The config's master badge held to the reader for 0.3 s, then taken
        away (a card left on the reader is not read again)."""
        self.loop.call_soon_threadsafe(self.fleet.tap, self.device, "master", 0.3)
        time.sleep(0.6)

    def interlock_closed(self) -> bool:
        board = self.fleet.node(self.device).board
        return board is not None and board.interlock is not None and bool(board.interlock.value())

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


class Served:
    """The api app on a database (started and stopped as the server would
    be), with a broker publisher and logins that survive a restart."""

    def __init__(self, url: str, broker: Mosquitto) -> None:
        self.database_url = url
        self.broker = broker
        self.settings = make_settings(url, downlink_key=MASTER, acl_sweep_s=60.0)
        self.client: TestClient | None = None
        self.publisher: MqttPublisher | None = None
        self.api: Api | None = None

    def start(self, first: bool = False) -> Api:
        self.publisher = MqttPublisher(self.broker.login(API_USER), timeout_s=5.0)
        self.client = TestClient(create_app(self.settings, publisher=self.publisher))
        self.client.__enter__()
        self.api = Api(self.client)
        for who in ("admin", "coordinator"):
            if first:
                self.api.add_user(who, who)
            else:
                response = self.client.post(
                    "/auth/token", json={"username": who, "password": f"{who}-password"}
                )
                assert response.status_code == 200, response.text
                self.api.tokens[who] = response.json()["access_token"]
        return self.api

    def stop(self) -> None:
        if self.client is not None:
            self.client.__exit__(None, None, None)
            self.client = None
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None

    def work(self, actor: str) -> Work:
        """What one admin's change needs, on a session of its own."""
        assert self.api is not None and self.publisher is not None
        session = self.api.factory()
        site = session.scalar(select(Site).where(Site.name == SITE))
        signer = downlink.signer(self.settings)
        return Work(session, site, Auditor(session, actor, None),
                    AclPush(self.api.factory, self.publisher, site, signer),
                    ManualLogins())  # fmt: skip

    def database_list(self, machine_id: int) -> tuple[int, list[str]]:
        assert self.api is not None
        with self.api.session() as session:
            machine = session.get(Machine, machine_id)
            assert machine is not None
            return machine.acl_version, acl.allow_list(session, machine_id, date.today())

    def epoch(self) -> int:
        assert self.api is not None
        with self.api.session() as session:
            return int(session.scalar(select(Site.downlink_epoch).where(Site.name == SITE)) or 0)

@pytest.fixture
def served(database_url: str, mosquitto: Mosquitto) -> Iterator[Served]:
    server = Served(database_url, mosquitto)
    yield server
    server.stop()


@pytest.fixture
def live_node(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[LiveNode]:
    # Provisioning's key for this node: api.services.downlink.device_key.
    key = downlink.device_key(make_settings("sqlite://", downlink_key=MASTER), SITE, DEVICE)
    node = LiveNode(mosquitto, tmp_path / "flash", SITE, DEVICE, key)
    yield node
    node.stop()
