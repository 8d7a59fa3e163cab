"""The drivers against the device models (simulator/devices), one check per
fault of issue 12 (tests/firmware/mp/device_checks.py), under CPython and
under real MicroPython 1.27 (WebAssembly), where the models are mounted as
simulator/devices next to the firmware."""

from __future__ import annotations

from pathlib import Path

from tests.firmware.micropython import report, run_text
from tests.firmware.mp import device_checks

ALL = len(device_checks.CHECKS) + len(device_checks.FILE_CHECKS)


def test_drivers_on_the_models_under_cpython(tmp_path: Path) -> None:
    assert len(device_checks.run(str(tmp_path))) == ALL


def test_drivers_on_the_models_under_micropython(tmp_path: Path) -> None:
    script = (
        "import json\nimport os\nos.mkdir('/tmp/dev')\nfrom mp import device_checks\n"
        "print('DEVICES-OK ' + json.dumps(device_checks.run('/tmp/dev')))\n"
        "print('IMPL ' + json.dumps(sys.implementation.name))\n"
    )
    result = run_text(script, tmp_path, timeout=600)
    assert len(report(result, "DEVICES-OK")) == ALL
    assert report(result, "IMPL") == "micropython"
