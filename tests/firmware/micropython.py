"""Runs a script under real MicroPython 1.27 (the WebAssembly port,
tools/mpy/run.mjs) with everything a check may import mounted as on a
board: firmware/ and protocol/ under /app (or their .mpy build), the check
scripts under /app/mp, the device and flash models under
/app/simulator/devices, and the fake hardware modules under /fakes (on
sys.path only if the script puts it there)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "mpy" / "run.mjs"
MP_DIR = Path(__file__).parent / "mp"


def run(script: Path, *args: str, code: Path = REPO, timeout: int = 300
        ) -> subprocess.CompletedProcess[str]:
    """code: where firmware/ and protocol/ come from (the repository, or a
    folder of .mpy files built from it)."""
    return subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{code / 'firmware'}:/app/firmware",
         "--mount", f"{code / 'protocol'}:/app/protocol",
         "--mount", f"{MP_DIR}:/app/mp",
         "--mount", f"{REPO / 'simulator' / 'devices'}:/app/simulator/devices",
         "--mount", f"{MP_DIR / 'fakes'}:/fakes",
         str(script), *args],
        capture_output=True, text=True, timeout=timeout,
    )


def run_text(text: str, tmp_path: Path, *args: str, timeout: int = 300
             ) -> subprocess.CompletedProcess[str]:
    """A script given as text, with /app and /fakes on sys.path."""
    launcher = tmp_path / "launch.py"
    launcher.write_text("import sys\nsys.path.insert(0, '/app')\nsys.path.insert(0, '/fakes')\n"
                        + text)
    return run(launcher, *args, timeout=timeout)


def report(result: subprocess.CompletedProcess[str], tag: str) -> Any:
    """The JSON after the last line starting with `tag`; the script must have passed."""
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith(tag + " ")][-1]
    return json.loads(line.split(" ", 1)[1])
