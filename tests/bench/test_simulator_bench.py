"""bench/simulator.py on a short span: both clocks run the same fleet to the
same virtual time and send the same messages; the figures are reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_simulator_bench_runs_and_reports(tmp_path: Path) -> None:
    output = tmp_path / "simulator.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.simulator", "--hours", "0.25", "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    assert printed == json.loads(output.read_text())
    fast, scaled = printed["fast"], printed["reference_speed_400"]
    for figures in (fast, scaled):
        assert figures["virtual_s"] == 900.0
        assert figures["real_s"] > 0 and figures["virtual_per_real"] > 0
        assert figures["reconnects"] == 0
    # Same fleet, same span: the same number of messages (15 min, 5 nodes, 60 s).
    assert fast["sent"] == scaled["sent"] >= 5 * 14
    assert fast["retransmits"] == 0
    assert printed["speedup"] > 0 and printed["nodes"] == 5
