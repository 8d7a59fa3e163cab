"""Supervised tasks: a failing one is restarted and reported while the others
run on; a stalled one is named, so the watchdog stops being fed. One check,
under CPython and under MicroPython 1.27 (real asyncio in both)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.firmware.micropython import report, run_text
from tests.firmware.mp import supervise_check


def test_supervisor_under_cpython() -> None:
    out = asyncio.run(supervise_check.run())
    assert out["restarts"] == 2 and out["stalled"] == "stuck"


def test_supervisor_under_micropython(tmp_path: Path) -> None:
    script = "import json\nfrom mp import supervise_check\nout = await supervise_check.run()\n" \
             "print('SUPERVISE-OK ' + json.dumps(out))\n"
    out = report(run_text(script, tmp_path), "SUPERVISE-OK")
    assert out["restarts"] == 2 and out["stalled"] == "stuck"
