"""Supervised tasks: a failing one is restarted and reported while the others
run on; a stalled one is named, so the watchdog stops being fed. One check,
under CPython and under MicroPython 1.27 (real asyncio in both)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from tests.firmware.mp import supervise_check

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "mpy" / "run.mjs"
MP_DIR = Path(__file__).parent / "mp"


def test_supervisor_under_cpython() -> None:
    out = asyncio.run(supervise_check.run())
    assert out["restarts"] == 2 and out["stalled"] == "stuck"


def test_supervisor_under_micropython(tmp_path: Path) -> None:
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys, json\nsys.path.insert(0, '/app')\nfrom mp import supervise_check\n"
        "out = await supervise_check.run()\nprint('SUPERVISE-OK ' + json.dumps(out))\n"
    )
    result = subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{REPO / 'firmware'}:/app/firmware",
         "--mount", f"{REPO / 'protocol'}:/app/protocol",
         "--mount", f"{MP_DIR}:/app/mp",
         str(launcher)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("SUPERVISE-OK ")][-1]
    out = json.loads(line.split(" ", 1)[1])
    assert out["restarts"] == 2 and out["stalled"] == "stuck"
