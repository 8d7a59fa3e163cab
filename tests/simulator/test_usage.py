"""The simulator's ground truth of each machine run: from the moment a machine
gets power (its interlock closes, or its own switch is worked) to the moment it
loses it, the energy its load model drew and the card that opened it, written
by `python -m simulator --usage-out FILE` as each run ends. Offline nodes (a
master badge opens), so the day passes at CPU speed; the CLI also says how far
a run at the fast clock has come, one line per simulated day."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from protocol.badge import badge_hash, parse_key, uid_from_hex
from tests.simulator.harness import MEMBERS

REPO = Path(__file__).resolve().parents[2]
KEY = "00112233445566778899aabbccddeeff"
START = "2026-03-02T00:00:00Z"
START_MS = 1772409600000  # START in Unix ms


def _master(*cards: str) -> list[str]:
    return [badge_hash(parse_key(KEY), uid_from_hex(MEMBERS[c])) for c in cards]


def _node(device: str, profile: str, **config: Any) -> dict[str, Any]:
    base = {"telemetry_s": 300, "sample_ms": 30000, "power": "pzem", "idle_s": 0,
            "timeout_s": 400000,
            "master": _master("alice", "bob")}
    return {"device": device, "role": "machine", "profile": profile, "config": {**base, **config}}


def test_each_run_is_written_with_its_card_and_true_energy(tmp_path: Path) -> None:
    scenario = {
        "site": "test", "start": START, "duration_s": 2 * 86400 + 600, "badge_key": KEY,
        # Nothing listens there: the nodes stay offline and decide with their masters.
        "mqtt": {"host": "127.0.0.1", "port": 9, "password": "x"},
        "members": MEMBERS,
        "nodes": [_node("laser1", "laser"), _node("kiln1", "kiln", pins={"relay": -1})],
        "events": [
            {"at_s": 3600, "tap": "alice", "device": "laser1"},
            {"at_s": 7200, "tap": "alice", "device": "laser1"},
            {"at_s": 7300, "tap": "carla", "device": "laser1"},  # no master: refused
            {"at_s": 9000, "tap": "bob", "device": "laser1"},
            {"at_s": 90000, "tap": "bob", "device": "laser1"},
            {"at_s": 4000, "tap": "bob", "device": "kiln1"},
            {"at_s": 4005, "switch": "kiln1", "on": True},
            {"at_s": 14400, "switch": "kiln1", "on": False},
            {"at_s": 14405, "tap": "bob", "device": "kiln1"},
            {"at_s": 100000, "tap": "alice", "device": "laser1"},  # still in at the end
        ],
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    usage = tmp_path / "usage.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "--scenario", str(path), "--fast",
         "--workdir", str(tmp_path / "flash"), "--usage-out", str(usage)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "simulator: day 1 at 2026-03-03T00:00:00+00:00" in done.stdout
    assert "simulator: day 2 at 2026-03-04T00:00:00+00:00" in done.stdout

    runs = [json.loads(line) for line in usage.read_text().splitlines()]
    by = [(r["device"], r["card"], round((r["start_ms"] - START_MS) / 1000),
           round((r["end_ms"] - START_MS) / 1000)) for r in runs]
    # The interlock closes and opens within a poll of the reader (100 ms);
    # the kiln's run is its switch's, claimed by the card tapped before it.
    assert by == [("laser1", "alice", 3600, 7200), ("kiln1", "bob", 4005, 14400),
                  ("laser1", "bob", 9000, 90000), ("laser1", "alice", 100000, 173400)], by
    for run in runs:
        hours = (run["end_ms"] - run["start_ms"]) / 3_600_000
        low, high = {"laser1": (150, 1650), "kiln1": (0, 3000)}[run["device"]]
        # Between the load's idle and busy power all along, and neither all idle
        # nor all busy over hours of cycling.
        assert low * hours < run["wh"] < high * hours, run
    # One more run would be one too many: carla's refused tap drew nothing.
    assert not any(r["card"] == "carla" for r in runs)
