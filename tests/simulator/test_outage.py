"""A simulated node loses its network for 25 hours, with a power cut in the
middle of it, then comes back: every telemetry message it made reaches
InfluxDB through the real gateway with its true time, and the energy there
matches the simulated machine's energy within 0.5 %."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from simulator.vloop import VirtualTimeLoop
from tests.simulator.harness import alice_badged_in, laser_for_alice, run, until
from timeseries import Series

HOURS = 25


def test_25_hour_outage_loses_nothing(tmp_path: Path, mosquitto: Mosquitto,
                                      influxdb: InfluxDB, request: pytest.FixtureRequest) -> None:
    gateway = GatewayProcess(tmp_path / "gateway", mosquitto, influxdb)
    request.addfinalizer(gateway.close)  # also when an assertion fails
    gateway.start()
    observer, fleet = laser_for_alice(mosquitto, tmp_path / "flash")
    loop = VirtualTimeLoop(speed=400)

    async def play() -> dict[str, float]:
        sim = await alice_badged_in(fleet)
        await asyncio.sleep(300)
        assert sim.board is not None and sim.board.interlock is not None
        assert sim.board.interlock.value(), "alice's session did not start"
        assert sim.node is not None
        first = sim.node
        sim.set_network(False)
        await asyncio.sleep(HOURS * 3600 / 2 + 777)
        # Power cut, no network, so no NTP after it: the node stamps with an
        # untrusted clock until the network is back, then corrects.
        assert sim.node is not None
        before_cut = sim.node.role.energy.wh
        first_boot_telemetry = first.queued["telemetry"]
        sim.power_cut()
        sim.power_on()
        assert sim.node is not None
        lost_at_cut = before_cut - sim.node.role.energy.wh
        fleet.tap("node1", "alice")  # the interlock opened with the power
        await asyncio.sleep(HOURS * 3600 / 2 - 777)
        node = sim.node
        assert node is not None and not node.clock.trusted
        queued_offline = node.outbox.pending()
        sim.set_network(True)
        await until(lambda: node.mqtt.connected and node.outbox.pending() == 0, 7200, "the replay")
        fleet.tap("node1", "alice")  # badge-out: the laser stops drawing power
        await asyncio.sleep(200)  # three more telemetry messages with the final counter
        await until(lambda: node.outbox.pending() == 0, 600, "the last messages")
        result = {
            "queued_offline": queued_offline,
            "lost_at_cut": lost_at_cut,
            "telemetry": first_boot_telemetry + node.queued["telemetry"],
            "dropped": node.outbox.dropped,
            "wh": node.role.energy.wh,
            "truth_wh": sim.true_energy_wh(),
        }
        await fleet.shutdown()
        return result

    started = time.monotonic()
    result = run(loop, play())
    loop.close()
    observer.close()
    assert result["queued_offline"] >= HOURS * 60 - 5  # one telemetry per minute, kept
    assert result["dropped"] == 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if influxdb.count("telemetry", "wh", "device = 'node1'") >= result["telemetry"]:
            break
        time.sleep(0.5)
    arrived = influxdb.count("telemetry", "wh", "device = 'node1'")
    assert arrived == result["telemetry"], (arrived, result)
    # Stamped before the clock was set again, sent with the true time.
    assert influxdb.count("telemetry", "wh", "device = 'node1' AND tq = 0") == 0
    assert 0 <= result["lost_at_cut"] <= 100
    rows = influxdb.query("SELECT last(wh) FROM telemetry WHERE device = 'node1'")
    stored_wh = _first_value(rows)
    assert stored_wh == result["wh"]
    truth = result["truth_wh"]
    assert truth > 20000  # 25 h of a laser cutter: the comparison means something
    assert abs(stored_wh - truth) <= 0.005 * truth, (stored_wh, truth)
    print(f"\n25 h outage: {result['telemetry']} telemetry messages, {arrived} in InfluxDB, "
          f"energy {stored_wh} Wh vs simulated {truth:.1f} Wh "
          f"({(stored_wh - truth) / truth:+.3%}), real time {time.monotonic() - started:.1f} s")


def _first_value(series: list[Series]) -> int:
    """The one value of a single-row InfluxQL answer."""
    values = series[0].values
    assert isinstance(values, list)
    return int(values[0][1])
