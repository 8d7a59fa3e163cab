"""`make run`: the stack comes up from nothing and the simulated building's
readings reach InfluxDB through the real broker and gateway."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_stack_runs_and_data_arrives(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devservers.stack", "--seconds", "20",
         "--workdir", str(tmp_path / "stack")],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "web page and api" in result.stdout
    counts = json.loads(result.stdout.strip().splitlines()[-1])["points_in_influxdb"]
    # Four nodes at 60x: each reports every 10 virtual seconds.
    assert counts["telemetry"] >= 40, counts
    assert counts["status"] >= 4, counts
