"""bench/alerts.py end to end on a tiny building: it runs, its last stdout line is
the JSON it wrote, and the figures are there and positive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_alerts_bench_runs_and_reports(tmp_path: Path) -> None:
    output = tmp_path / "alerts.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.alerts", "--machines", "3", "--heating", "1",
         "--meters", "1", "--days", "4", "--passes", "3", "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    assert printed == json.loads(output.read_text())

    assert printed["benchmark"] == "alerts"
    assert printed["devices"] == 5
    assert printed["devices_seen"] == printed["devices"]
    assert printed["passes"] == 3
    assert printed["points_written"] > 4 * 1440 * 5  # 4 days of 1-minute telemetry, 5 nodes
    for name in ("pass_s", "reference_raw_queries_s", "rows_fetched_per_pass",
                 "service_cpu_s_per_pass"):
        assert 0 < printed[name]["median"] <= printed[name]["p95"] <= printed[name]["max"], name
    phases = printed["phases_s"]
    assert set(phases) == {"fetch", "rules", "lifecycle", "write_back", "other"}
    for name in ("fetch", "rules", "lifecycle", "write_back"):
        assert phases[name]["median"] > 0, name
    assert sum(p["median"] for p in phases.values()) <= printed["pass_s"]["max"] * 1.01
    by_statement = printed["reference_raw_query_s_by_statement"]
    assert len(by_statement) == printed["queries_per_pass"] > 0
    assert all(seconds > 0 for seconds in by_statement.values())
    assert any(q.startswith("SELECT * FROM telemetry") for q in by_statement)
    assert printed["interval_s"] == 30.0
    assert printed["headroom_x"] == pytest.approx(30.0 / printed["pass_s"]["max"], rel=0.01)
    # The planted faults (a machine left on, a node gone silent, ...) open alerts.
    assert printed["alerts"] > 0 and printed["deliveries"] >= printed["alerts"]
    assert printed["findings_per_pass"]["max"] > 0
