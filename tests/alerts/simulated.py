"""Run the real simulator (the firmware on virtual hardware) through the real
broker and gateway into InfluxDB, for the alert tests, and check that what
the nodes published is what InfluxDB holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from simulator.fleet import Fleet
from simulator.vloop import VirtualTimeLoop
from tests.simulator.harness import Observer, run, scenario, until
from timeseries import InfluxClient

# While a node waits for its broker, virtual time runs at 50 times the real
# clock: a 0.3 ms round trip costs 15 ms, far below the firmware's 10-15 s
# timeouts even on a loaded machine. Otherwise the clock jumps.
SPEED = 50.0
CHANNELS = ("telemetry", "event")


def source(influxdb: InfluxDB) -> InfluxClient:
    return influxdb.client(30)


def simulate(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB,
             nodes: list[dict[str, Any]], duration_s: float,
             during: Callable[[Fleet, Observer], Awaitable[None]] | None = None,
             **extra: Any) -> Fleet:
    """The scenario (`extra`: its events, building, start...) for `duration_s`
    virtual seconds through a real gateway; `during(fleet, observer)` runs
    alongside on the virtual clock (what the api does meanwhile, readings
    of the nodes). Returns once InfluxDB holds every telemetry and event
    message the broker delivered, each once (asserted per device and
    channel)."""
    observer = Observer(mosquitto)
    gateway = GatewayProcess(tmp_path / "gateway", mosquitto, influxdb)
    gateway.start()
    try:
        sc = scenario(mosquitto, nodes, **extra)
        for topic, payload in sc.acl_messages():  # what the api publishes
            observer.publish_retained(topic, payload)
        fleet = Fleet(sc, tmp_path / "flash")
        loop = VirtualTimeLoop(speed=SPEED, quiet=fleet.quiet)

        async def whole() -> None:
            beside = asyncio.ensure_future(during(fleet, observer)) if during else None
            await fleet.run_scenario(duration_s)
            if beside is not None:
                await beside
            # Everything queued reaches the broker before the power goes.
            await until(lambda: _drained(fleet), 600, "the nodes' outboxes to drain")
            await fleet.shutdown()

        try:
            run(loop, whole())
        finally:
            loop.close()
        _wait_for_data(influxdb, observer, [spec["device"] for spec in nodes])
    finally:
        gateway.close()
        observer.close()
    return fleet


def _drained(fleet: Fleet) -> bool:
    return all(sim.node is None or (sim.node.mqtt.connected and not sim.node.outbox.pending())
               for sim in fleet.nodes.values())


def _published(observer: Observer, devices: list[str]) -> dict[tuple[str, str], int]:
    """Distinct seq per (device, channel) as the broker delivered them, counted
    once the observer has received nothing new for a second (the broker had
    acknowledged every message before the nodes went off)."""
    received = -1
    while received != len(observer.messages):
        received = len(observer.messages)
        time.sleep(1.0)
    return {(device, channel): len({m["seq"] for m in observer.decoded(device, channel)})
            for device in devices for channel in CHANNELS}


def stored_counts(src: InfluxClient) -> dict[tuple[str, str], int]:
    out = {}
    for channel in CHANNELS:
        for s in src.query(f'SELECT count("seq") FROM {channel} GROUP BY device'):
            if s.rows:
                out[(s.tags["device"], channel)] = int(s.rows[0]["count"])
    return out


def _wait_for_data(influxdb: InfluxDB, observer: Observer, devices: list[str],
                   real_s: float = 180) -> None:
    published = _published(observer, devices)
    deadline = time.monotonic() + real_s
    stored: dict[tuple[str, str], int] = {}
    with closing(source(influxdb)) as src:
        while time.monotonic() < deadline:
            stored = {key: n for key, n in stored_counts(src).items() if key in published}
            if stored == {key: n for key, n in published.items() if n}:
                return
            time.sleep(0.5)
    raise AssertionError(f"published {published}, stored {stored}")
