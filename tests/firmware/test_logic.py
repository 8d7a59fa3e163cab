"""The firmware's pure logic, checked by one script under two interpreters:
CPython here, and real MicroPython 1.27 (WebAssembly, tools/mpy/run.mjs);
and the board as main.py builds it, on the device models."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from pathlib import Path

from tests.firmware.mp import checks

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "mpy" / "run.mjs"
MP_DIR = Path(__file__).parent / "mp"


def golden() -> dict[str, str]:
    """A badge-hash vector from CPython's own hmac, not from the code under test."""
    key, uid = bytes(range(16)), bytes.fromhex("04a21b3c")
    digest = hmac.new(key, uid, hashlib.sha256).hexdigest()[:16]
    return {"key": key.hex(), "uid": uid.hex(), "hash": digest}


def run_micropython(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    launcher = tmp_path / "launch.py"
    prelude = "import sys\nsys.path.insert(0, '/app')\nsys.path.insert(0, '/fakes')\n"
    launcher.write_text(prelude + script)
    return subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{REPO / 'firmware'}:/app/firmware",
         "--mount", f"{REPO / 'protocol'}:/app/protocol",
         "--mount", f"{MP_DIR}:/app/mp",
         "--mount", f"{MP_DIR / 'fakes'}:/fakes",
         str(launcher), *args],
        capture_output=True, text=True, timeout=300,
    )


def test_logic_under_cpython(tmp_path: Path) -> None:
    names = checks.run(str(tmp_path), golden())
    assert len(names) == len(checks.CHECKS) + len(checks.FILE_CHECKS) + 1


def test_logic_under_micropython(tmp_path: Path) -> None:
    script = (
        "import json\nfrom mp import checks\nimport os\nos.mkdir('/tmp/fw')\n"
        "print('CHECKS-PASSED ' + json.dumps(checks.run('/tmp/fw', json.loads(sys.argv[1]))))\n"
    )
    result = run_micropython(script, tmp_path, json.dumps(golden()))
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("CHECKS-PASSED ")][-1]
    names = json.loads(line.split(" ", 1)[1])
    assert len(names) == len(checks.CHECKS) + len(checks.FILE_CHECKS) + 1, names
    probe = _write(tmp_path / "impl.py", "import sys\nprint(sys.implementation.name)\n")
    assert "micropython" in subprocess.run(
        ["node", str(RUNNER), str(probe)],
        capture_output=True, text=True, timeout=60,
    ).stdout


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_heating_meter_and_restamp_under_micropython() -> None:
    result = subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{REPO / 'firmware'}:/app/firmware",
         "--mount", f"{REPO / 'protocol'}:/app/protocol",
         str(MP_DIR / "roles_cycle.py")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("ROLES-OK ")][-1]
    out = json.loads(line.split(" ", 1)[1])
    assert out["meter"] == {"wh": 2000, "pulses": 1600}
    assert out["heating"]["t_flow"] == 61.5


def test_board_drivers_under_micropython_with_fake_hardware() -> None:
    result = subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{REPO / 'firmware'}:/app/firmware",
         "--mount", f"{REPO / 'protocol'}:/app/protocol",
         "--mount", f"{REPO / 'simulator' / 'devices'}:/app/devices",
         "--mount", f"{MP_DIR / 'fakes'}:/fakes",
         str(MP_DIR / "board_check.py")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("BOARD-OK ")][-1]
    assert json.loads(line.split(" ", 1)[1]) == {"pcnt": True, "heap": True}
