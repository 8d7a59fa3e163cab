"""The drivers against the device models (simulator/devices), one check per
fault of issue 12 (tests/firmware/mp/device_checks.py), under CPython and
under real MicroPython 1.27 (WebAssembly), where the models are mounted as
the package `devices` next to the firmware."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.firmware.mp import device_checks

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "mpy" / "run.mjs"
MP_DIR = Path(__file__).parent / "mp"
ALL = len(device_checks.CHECKS) + len(device_checks.FILE_CHECKS)


def test_drivers_on_the_models_under_cpython(tmp_path: Path) -> None:
    assert len(device_checks.run(str(tmp_path))) == ALL


def test_drivers_on_the_models_under_micropython(tmp_path: Path) -> None:
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys, json\nsys.path.insert(0, '/app')\nimport os\nos.mkdir('/tmp/dev')\n"
        "from mp import device_checks\n"
        "print('DEVICES-OK ' + json.dumps(device_checks.run('/tmp/dev')))\n"
        "print(sys.implementation.name)\n"
    )
    result = subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{REPO / 'firmware'}:/app/firmware",
         "--mount", f"{REPO / 'protocol'}:/app/protocol",
         "--mount", f"{REPO / 'simulator' / 'devices'}:/app/devices",
         "--mount", f"{MP_DIR}:/app/mp",
         str(launcher)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("DEVICES-OK ")][-1]
    assert len(json.loads(line.split(" ", 1)[1])) == ALL
    assert result.stdout.splitlines()[-1] == "micropython"
