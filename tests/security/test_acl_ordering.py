"""Overlapping ACL publishes and a restored database, against a node running
the firmware's own code (tests/security/live_node.py) on a real Mosquitto, on
SQLite and on PostgreSQL. Before the versions were allocated in the database,
two overlapping publishes (a change and the sweep, two admins) could both take
version N+1, and a restored database reused versions the node already had:
the node then kept a list the database no longer held. Both must end with the
node on the database's list within 60 s."""

from __future__ import annotations

import queue
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from sqlalchemy.engine import make_url

from api.schemas.machines import TrainingCreate
from api.services import acl, downlink, machines
from api.services.badges import revoke_badge
from devservers import Mosquitto
from protocol import wire
from tests.api.conftest import SITE, Api, database_url, pg_server  # noqa: F401 (fixtures)
from tests.conftest import TEST_PASSWORD, TEST_USER
from tests.security.live_node import DEVICE, LiveNode, Served, live_node, served  # noqa: F401

BOUND_S = 60.0
TOPIC = wire.topic(SITE, DEVICE, "acl")


class Seen:
    """Every ACL message on the node's topic, as a superuser sees it."""

    def __init__(self, broker: Mosquitto) -> None:
        self.payloads: queue.Queue[bytes] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="seen-acl")
        self.client.username_pw_set(TEST_USER, TEST_PASSWORD)
        self.client.on_message = lambda _c, _u, m: self.payloads.put(bytes(m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(TOPIC, qos=1)

    def versions(self) -> dict[int, set[bytes]]:
        by_version: dict[int, set[bytes]] = {}
        while not self.payloads.empty():
            payload = self.payloads.get()
            if payload:
                by_version.setdefault(wire.decode("acl", payload)["ver"], set()).add(payload)
        return by_version

    def clear_retained(self) -> None:
        """As a broker that lost its retained store."""
        self.client.publish(TOPIC, b"", qos=1, retain=True).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _member_with_badge(api: Api, code: str, uid: str) -> tuple[int, int]:
    member = api.ok("admin", "POST", "/members", json={"code": code, "name": code})["id"]
    badge = api.ok("coordinator", "POST", "/badges", json={"member_id": member, "uid": uid})
    return member, badge["id"]


def _train(api: Api, member: int, machine: int) -> None:
    api.ok("coordinator", "POST", "/trainings", json={"member_id": member, "machine_id": machine})


def _machine(api: Api) -> int:
    device = api.ok("admin", "POST", "/devices", json={"name": DEVICE, "role": "machine"})["id"]
    body = {"code": "laser", "rated_power_w": 3000, "device_id": device}
    return int(api.ok("coordinator", "POST", "/machines", json=body)["id"])


def _on_database_list(server: Served, node: LiveNode, machine: int) -> float:
    def same() -> bool:
        version, allow = server.database_list(machine)
        return node.holds(version, allow)

    return node.wait_for(same, BOUND_S, "the node on the database's list")


def _at_once(jobs: list[Callable[[], Any]]) -> list[BaseException]:
    """Runs every job in its own thread, released together; -> their errors."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # reported by the test, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def test_overlapping_publishes_never_share_a_version(
    served: Served, live_node: LiveNode, mosquitto: Mosquitto  # noqa: F811
) -> None:
    api = served.start(first=True)
    machine = _machine(api)
    members = [_member_with_badge(api, f"M{k}", f"04:00:00:{k:02x}") for k in range(4)]
    _train(api, members[0][0], machine)
    live_node.start()
    _on_database_list(served, live_node, machine)
    seen = Seen(mosquitto)
    assert served.publisher is not None
    publisher = served.publisher
    signer = downlink.signer(served.settings)
    site = served.work("sweep").site
    factory = api.factory
    waits = []
    try:
        for round_ in range(1, 4):
            # Two admins (one grants, one revokes), the sweep, and changes'
            # own publishes, all at the same moment.
            granted, revoked = members[round_][0], members[round_ - 1][1]

            def grant(member: int = granted) -> None:
                work = served.work("admin-a")
                with work.session:
                    body = TrainingCreate(member_id=member, machine_id=machine)
                    machines.grant_training(work, body)

            def revoke(badge: int = revoked) -> None:
                work = served.work("admin-b")
                with work.session:
                    revoke_badge(work, badge)

            def republish() -> None:
                acl.publish_machine(factory, publisher, signer, machine, date.today())

            def sweep() -> None:
                acl.sweep(factory, publisher, signer, site, date.today())

            errors = _at_once([grant, revoke, republish, republish, republish, sweep, sweep])
            assert errors == [], errors
            waits.append(_on_database_list(served, live_node, machine))
        version, allow = served.database_list(machine)
        assert len(allow) == 1 and live_node.held() == (version, 1)
        time.sleep(0.5)  # the last messages reach the observer
        by_version = seen.versions()
        shared = {v: len(p) for v, p in by_version.items() if len(p) > 1}
        assert shared == {}, f"versions given to different lists: {shared}"
        assert max(by_version) == version
        print(f"\n{sum(len(p) for p in by_version.values())} ACLs published in 3 rounds of 7 "
              f"overlapping calls, all versions distinct; node on the database's list "
              f"{[round(w, 2) for w in waits]} s after each round")
    finally:
        seen.close()


class Backup:
    """A copy of the database as an admin would take and put back: the file
    for SQLite, a template copy for PostgreSQL (taken with the api stopped)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = make_url(url)
        self.name = str(self.url.database)
        self.copy = folder / "backup.db"

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(host=self.url.host, port=self.url.port, user=self.url.username,
                               password=self.url.password, dbname="postgres", autocommit=True)

    def take(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            with sqlite3.connect(self.name) as source, \
                    sqlite3.connect(self.copy) as target:
                source.backup(target)
            return
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}_bak" TEMPLATE "{self.name}"')

    def restore(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            shutil.copyfile(self.copy, self.name)
            return
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE "{self.name}"')
            conn.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.name}_bak"')


def test_a_restored_database_puts_its_list_on_the_node(
    served: Served, live_node: LiveNode, mosquitto: Mosquitto, tmp_path: Path  # noqa: F811
) -> None:
    """Backup while only A may use the laser; then D is trained (the node
    takes a newer version with D); the database is restored from the backup
    and the broker has lost its retained copy too. The restored database
    knows nothing of D, and its counters are back where they were: only the
    epoch raised at start-up puts its next version above the node's."""
    api = served.start(first=True)
    machine = _machine(api)
    alpha, _ = _member_with_badge(api, "A", "04:0a:0a:0a")
    _train(api, alpha, machine)
    live_node.start()
    _on_database_list(served, live_node, machine)
    backed_up_version, backed_up_list = served.database_list(machine)
    served.stop()
    backup = Backup(served.database_url, tmp_path)
    backup.take()

    api = served.start()
    delta, _ = _member_with_badge(api, "D", "04:0d:0d:0d")
    _train(api, delta, machine)
    _on_database_list(served, live_node, machine)
    with_delta_version, with_delta = served.database_list(machine)
    assert len(with_delta) == 2 and with_delta_version > backed_up_version
    (delta_badge,) = set(with_delta) - set(backed_up_list)
    assert live_node.allowed(delta_badge)
    epoch_before = served.epoch()
    served.stop()

    backup.restore()
    seen = Seen(mosquitto)
    seen.clear_retained()
    seen.close()
    started = time.monotonic()
    served.start()
    assert served.epoch() > epoch_before  # raised at start-up over the restored one
    took = _on_database_list(served, live_node, machine) + (time.monotonic() - started)
    version, allow = served.database_list(machine)
    assert allow == backed_up_list and version > with_delta_version
    assert not live_node.allowed(delta_badge)  # D's badge no longer opens the laser
    print(f"\nafter the restore: node on the database's list {took:.2f} s after the api "
          f"started (version {with_delta_version} on the node, {version} after the restore)")

