"""The simulated building, seen through the firmware's own measurements: the
heating node's temperatures follow the boiler and fall after it fails; the
building meter's pulses add up to every machine plus the base load. The
nodes are offline (network down), so days pass at CPU speed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devservers import Mosquitto
from protocol.badge import badge_hash, uid_from_hex
from simulator.fleet import Fleet
from simulator.vloop import VirtualTimeLoop
from tests.simulator.harness import MEMBERS, machine, run, scenario

FAIL_AT = 30 * 3600


def test_heating_follows_boiler_and_meter_adds_up(tmp_path: Path, mosquitto: Mosquitto) -> None:
    nodes = [
        dict(machine("node1", sample_ms=20000, power="pzem"), profile="compressor"),
        {"device": "node2", "role": "heating", "config": {"sample_ms": 10000, "temp_every_s": 60}},
        {"device": "node3", "role": "meter", "config": {"sample_ms": 10000}},
    ]
    sc = scenario(mosquitto, nodes, building={"zones": 2, "boiler_fail_at_s": FAIL_AT})
    # Offline from the start, so no ACL ever: the member's badge opens the
    # compressor as a configured master badge.
    sc.nodes[0]["config"]["master"] = [badge_hash(sc.badge_key, uid_from_hex(MEMBERS["alice"]))]
    fleet = Fleet(sc, tmp_path / "flash")
    loop = VirtualTimeLoop(speed=100)

    async def play() -> dict[str, list[dict[str, float]]]:
        fleet.start()
        for sim in fleet.nodes.values():
            sim.set_network(False)
        fleet.tap("node1", "alice")
        await asyncio.sleep(60)
        compressor = fleet.node("node1")
        assert compressor.board is not None and compressor.board.interlock is not None
        assert compressor.board.interlock.value()
        samples: dict[str, list[dict[str, float]]] = {"heating": [], "meter": []}
        heating = fleet.node("node2")
        meter = fleet.node("node3")
        for _ in range(48):
            await asyncio.sleep(3600)
            assert heating.node is not None and meter.node is not None
            samples["heating"].append(dict(heating.node.role.readings(), t=loop.time()))
            samples["meter"].append({"wh": meter.node.role.wh,
                                     "truth": fleet.meter.energy_wh(loop.time())})
        assert compressor.node is not None
        samples["compressor"] = [{"wh": compressor.node.role.energy.wh,
                                  "truth": compressor.true_energy_wh()}]
        await fleet.shutdown()
        return samples

    samples = run(loop, play())
    loop.close()
    warm = [s for s in samples["heating"] if 12 * 3600 < s["t"] < FAIL_AT]
    cold = [s for s in samples["heating"] if s["t"] > FAIL_AT + 12 * 3600]
    assert warm and cold
    # Before the failure the thermostat holds zone 1 around its 20 degC setpoint.
    assert all(18.5 < s["t_zone1"] < 21.5 for s in warm), warm
    assert max(s["t_flow"] for s in warm) > 50
    # After it: the call for heat stays on, the flow and the zones go cold.
    assert all(s["call"] == 1 for s in cold)
    assert cold[-1]["t_flow"] < 25 and cold[-1]["t_zone1"] < warm[-1]["t_zone1"] - 2, cold[-1]
    assert all(s["t_return"] <= s["t_flow"] + 0.01 for s in samples["heating"])
    # The meter counts what the building draws: pulses (1 Wh each) behind the
    # exact integral by at most one sampling period at full load plus a pulse.
    lag_wh = (2200 + 300) * 10 / 3600 + 1
    for s in samples["meter"]:
        assert s["truth"] - lag_wh <= s["wh"] <= s["truth"] + 1, s
    # The compressor's PZEM (Modbus RTU, CRC-checked frames): its energy
    # register, read every 20 s, is what the node counts.
    c = samples["compressor"][0]
    assert c["truth"] > 20000 and c["truth"] - 2200 * 20 / 3600 - 1 <= c["wh"] <= c["truth"], c
    # More than the 300 W base load alone: the compressor ran through it.
    assert samples["meter"][-1]["wh"] > 300 * 48 + 10000, samples["meter"][-1]
