"""The firmware's pure logic, checked by one script under two interpreters:
CPython here, and real MicroPython 1.27 (WebAssembly, tools/mpy/run.mjs);
and the board as main.py builds it, on the device models."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
from pathlib import Path

from tests.firmware.micropython import MP_DIR, RUNNER, report, run, run_text
from tests.firmware.mp import checks


def golden() -> dict[str, str]:
    """A badge-hash vector and a downlink MAC vector (docs/protocol.md: over the
    channel, a newline and the bytes before the mac member) from CPython's own
    hmac, not from the code under test."""
    key, uid = bytes(range(16)), bytes.fromhex("04a21b3c")
    digest = hmac.new(key, uid, hashlib.sha256).hexdigest()[:16]
    mac_key, head = bytes(range(100, 132)), '{"v": 1, "op": "ping", "id": 7, "ver": 9'
    mac = hmac.new(mac_key, b"cmd\n" + head.encode(), hashlib.sha256).hexdigest()
    return {"key": key.hex(), "uid": uid.hex(), "hash": digest,
            "mac_key": mac_key.hex(), "mac_head": head, "mac": mac}


def test_logic_under_cpython(tmp_path: Path) -> None:
    names = checks.run(str(tmp_path), golden())
    assert len(names) == len(checks.CHECKS) + len(checks.FILE_CHECKS) + 2


def test_logic_under_micropython(tmp_path: Path) -> None:
    script = (
        "import json\nfrom mp import checks\nimport os\nos.mkdir('/tmp/fw')\n"
        "print('CHECKS-PASSED ' + json.dumps(checks.run('/tmp/fw', json.loads(sys.argv[1]))))\n"
    )
    names = report(run_text(script, tmp_path, json.dumps(golden())), "CHECKS-PASSED")
    assert len(names) == len(checks.CHECKS) + len(checks.FILE_CHECKS) + 2, names
    probe = _write(tmp_path / "impl.py", "import sys\nprint(sys.implementation.name)\n")
    assert "micropython" in subprocess.run(
        ["node", str(RUNNER), str(probe)],
        capture_output=True, text=True, timeout=60,
    ).stdout


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_heating_meter_and_restamp_under_micropython() -> None:
    out = report(run(MP_DIR / "roles_cycle.py"), "ROLES-OK")
    assert out["meter"] == {"wh": 2000, "pulses": 1600}
    assert out["heating"]["t_flow"] == 61.5


def test_board_drivers_under_micropython_with_fake_hardware() -> None:
    out = report(run(MP_DIR / "board_check.py"), "BOARD-OK")
    assert out == {"pcnt": True, "heap": True}


def test_entry_point_under_micropython_with_fake_hardware() -> None:
    result = run(MP_DIR / "main_check.py")
    out = report(result, "MAIN-OK")
    assert out["exits"] == ["crash", "ctrl-c", "exit"]
    # main_check.py prints the string pool around main.load_config().
    pools = [int(m) for m in re.findall(r"^qstr pool: .*n_total_bytes=(\d+)$", result.stdout,
                                        re.M)]
    assert len(pools) == 2, result.stdout
    kept = out["config_kept_bytes"] - (pools[1] - pools[0])
    print(f"\nheap kept by main.load_config(): {out['config_kept_bytes']} B, "
          f"{pools[1] - pools[0]} B of it the string pool")
    # What stays is the merged config and a few objects (~3 KB); keeping the
    # module too (main.py's old global import) gives ~9 KB. The names
    # interned while compiling stay in any case, and move the heap in steps of
    # a whole pool when they start a new one: not counted here.
    assert kept < 6000, (out, pools)
