"""Supervised tasks: a failing one is restarted and reported while the others
run on; a stalled one is named, so the watchdog stops being fed; a node's
flash task waiting for work is not stalled. One check, under CPython and
under MicroPython 1.27 (real asyncio in both)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.firmware.micropython import report, run_text
from tests.firmware.mp import supervise_check


def test_supervisor_under_cpython(tmp_path: Path) -> None:
    out = asyncio.run(supervise_check.run(str(tmp_path)))
    assert out["restarts"] == 2 and out["stalled"] == "stuck"
    assert out["idle_flash_stalled"] is None


def test_supervisor_under_micropython(tmp_path: Path) -> None:
    script = "import json\nimport os\nos.mkdir('/tmp/sv')\nfrom mp import supervise_check\n" \
             "out = await supervise_check.run('/tmp/sv')\n" \
             "print('SUPERVISE-OK ' + json.dumps(out))\n"
    out = report(run_text(script, tmp_path), "SUPERVISE-OK")
    assert out["restarts"] == 2 and out["stalled"] == "stuck"
    assert out["idle_flash_stalled"] is None
