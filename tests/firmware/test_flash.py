"""The node on the flash model (simulator/devices/flash.py): LittleFS's
erase-and-copy (45 ms typical per 4 KB block) stays off the badge path, and a
power cut at any point of a config write leaves config.json whole. One check
script, run under CPython and under MicroPython 1.27."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.firmware.mp import flash_check

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "mpy" / "run.mjs"
MP_DIR = Path(__file__).parent / "mp"


def check_figures(out: dict) -> None:
    badge = out["check_badge_path_writes_no_flash"]
    assert badge["badge_path_ms"] == 0 and 45 <= badge["write_ms"] < 48, badge
    cut = out["check_config_write_survives_power_cut"]
    assert cut["cuts"] >= 2 and "old" in cut["outcomes"] and "new" in cut["outcomes"], cut
    assert out["check_acl_refused_keeps_the_cached_one"]["refused"] == 2


def test_flash_under_cpython(tmp_path: Path) -> None:
    check_figures(flash_check.run(str(tmp_path)))


def test_flash_under_micropython(tmp_path: Path) -> None:
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys, os, json\nsys.path.insert(0, '/app')\nos.mkdir('/tmp/fl')\n"
        "from mp import flash_check\n"
        "print('FLASH-OK ' + json.dumps(flash_check.run('/tmp/fl')))\n"
    )
    result = subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{REPO / 'firmware'}:/app/firmware",
         "--mount", f"{REPO / 'protocol'}:/app/protocol",
         "--mount", f"{REPO / 'simulator' / 'devices'}:/app/simulator/devices",
         "--mount", f"{MP_DIR}:/app/mp",
         str(launcher)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("FLASH-OK ")][-1]
    check_figures(json.loads(line.split(" ", 1)[1]))
