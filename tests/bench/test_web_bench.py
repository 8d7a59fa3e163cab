"""bench/web.py end to end on a tiny building: it runs, its last stdout line is
the JSON it wrote, every page and chart has its `_ms` key, the references have
theirs (with `raw`), and the rollups are smaller than the raw readings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_web_bench_runs_and_reports(tmp_path: Path) -> None:
    output = tmp_path / "web.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.web", "--machines", "2", "--heating", "1", "--meters", "1",
         "--days", "3", "--repeat", "1", "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    assert printed == json.loads(output.read_text())
    assert printed["benchmark"] == "web" and printed["devices"] == 4
    assert printed["points_written"] > 3 * 1440 * 4  # 3 days of 1-minute telemetry, 4 nodes
    pages = {f"{p}_page_ms" for p in ("coordinator", "member", "treasurer", "admin")}
    charts = {f"chart_{c}_{r}_ms" for c in ("heating", "power")
              for r in ("24h", "7d", "30d", "365d")}
    references = {"coordinator_page_raw_ms", "chart_heating_24h_raw_ms",
                  "chart_heating_365d_raw_ms", "chart_power_24h_raw_ms", "chart_power_365d_raw_ms"}
    timed = {k for k in printed if k.endswith("_ms")}
    assert timed == pages | charts | references
    assert all(printed[k] > 0 for k in timed)
    assert printed["backfill_points"] > 0 and printed["periodic_rollup_pass_s"] > 0
    assert 0 < printed["storage_bytes_per_node_year_rollups_only"] < (
        printed["storage_bytes_per_node_year_raw"])
    assert printed["alerts_open"] >= 1  # the boiler failing in the last hours
