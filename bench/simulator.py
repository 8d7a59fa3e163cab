"""`python -m bench.simulator`: how many virtual seconds the simulator runs
per real second while its nodes stay connected to a real Mosquitto.

The project: the fast clock (`--fast`, `VirtualTimeLoop(quiet=fleet.quiet)`),
which jumps whenever no node waits for its broker. Reference, in the same
run: the plain scaled clock the simulator tests used before (`--speed 400`:
every real wait counts 400 times, and waits are real while a socket is
open). Both run the same five nodes (laser, compressor, kiln, heating,
meter; sampling every 5 s, telemetry every 60 s, members' sessions) for the
same virtual span; the MQTT retransmissions of each run are reported, since
a clock that jumped over a broker's answer would show them.

Prints one JSON object as its last line; writes bench/results/simulator.json."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from devservers import Mosquitto
from simulator.fleet import Fleet
from simulator.scenario import Scenario
from simulator.vloop import VirtualTimeLoop

RESULTS = Path(__file__).resolve().parent / "results" / "simulator.json"
PASSWORD = "device-secret"
# A small building, also the false-alarm week of tests/alerts: nodes sample
# every 5 s instead of 1 s (1 s costs the simulator minutes of CPU a week and
# changes nothing the alert rules read); the kiln has no interlock.
SAMPLE = {"sample_ms": 5000}
MEMBERS = {"alice": "04:a1:b2:c3", "bob": "04:d4:e5:f6", "carla": "04:11:22:33"}
NODES: list[dict[str, Any]] = [
    {"device": "node1", "role": "machine", "profile": "laser", "sessions_per_day": 4,
     "users": ["alice", "bob"], "config": dict(SAMPLE)},
    {"device": "node2", "role": "machine", "profile": "compressor", "sessions_per_day": 2,
     "users": ["bob", "carla"], "config": {**SAMPLE, "power": "pzem"}},
    {"device": "node5", "role": "machine", "profile": "compressor", "sessions_per_day": 1,
     "users": ["carla"], "config": {**SAMPLE, "pins": {"relay": -1}}},
    {"device": "node3", "role": "heating", "config": dict(SAMPLE)},
    {"device": "node4", "role": "meter", "config": dict(SAMPLE)},
]


def _run(broker: Mosquitto, workdir: Path, virtual_s: float, fast: bool) -> dict[str, Any]:
    scenario = Scenario({
        "site": "bench", "start": "2026-11-02T00:00:00Z",
        "members": MEMBERS,
        "mqtt": {"host": broker.host, "port": broker.port, "password": PASSWORD},
        "nodes": NODES,
    })
    fleet = Fleet(scenario, workdir)
    loop = VirtualTimeLoop(speed=50 if fast else 400, quiet=fleet.quiet if fast else None)
    real, cpu = time.perf_counter(), time.process_time()

    async def play() -> None:
        await fleet.run_scenario(virtual_s)
        nodes = [sim.node for sim in fleet.nodes.values() if sim.node is not None]
        stats["sent"] = sum(n.mqtt.sent for n in nodes)
        stats["retransmits"] = sum(n.mqtt.retransmits for n in nodes)
        stats["reconnects"] = sum(n.mqtt.reconnects for n in nodes)
        await fleet.shutdown()

    stats: dict[str, Any] = {}
    try:
        loop.run_until_complete(play())
    finally:
        loop.close()
    real = time.perf_counter() - real
    cpu = time.process_time() - cpu
    stats.update(virtual_s=virtual_s, real_s=round(real, 2), cpu_s=round(cpu, 2),
                 virtual_per_real=round(virtual_s / real, 1))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=12.0,
                        help="virtual hours per run (members work from hour 8 to 18)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()
    virtual_s = args.hours * 3600
    users = {sim["device"]: PASSWORD for sim in NODES}
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto", users)
        broker.start()
        try:
            fast = _run(broker, Path(tmp) / "fast", virtual_s, fast=True)
            scaled = _run(broker, Path(tmp) / "scaled", virtual_s, fast=False)
        finally:
            broker.close()
    week_s = 7 * 86400 / fast["virtual_per_real"]
    result = {
        "benchmark": "simulator",
        "nodes": len(NODES),
        "fast": fast,
        "reference_speed_400": scaled,
        "speedup": round(fast["virtual_per_real"] / scaled["virtual_per_real"], 1),
        "connected_week_real_s": round(week_s),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
