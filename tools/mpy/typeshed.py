"""Builds a typeshed folder for mypy that describes MicroPython on the ESP32:

    python tools/mpy/typeshed.py DEST
    mypy --config-file firmware/mypy.ini --custom-typeshed-dir DEST \\
         --explicit-package-bases firmware protocol

micropython-stdlib-stubs ships a `stdlib/` folder (the language and the
modules shared by all ports) and micropython-esp32-stubs ships the port's
modules (time with ticks_ms, machine, network, onewire, ...) as top-level
.pyi files, which mypy would not find by itself (they are not PEP 561
packages, and with ignore_missing_imports they silently become Any). Here
both go into one typeshed, the port's files winning, every module listed in
VERSIONS.
"""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path


def _files(dist: str) -> list[Path]:
    files = metadata.files(dist) or []
    return [Path(str(f.locate())) for f in files if "dist-info" not in str(f)]


def build(dest: Path) -> Path:
    stdlib_files = _files("micropython-stdlib-stubs")
    site = next(p for p in stdlib_files if p.parent.name == "stdlib").parent.parent
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(site / "stdlib", dest / "stdlib")
    shutil.copytree(site / "_mpy_shed", dest / "stdlib" / "_mpy_shed")
    # mypy itself needs mypy_extensions from its own typeshed's stubs/.
    import mypy

    bundled = Path(mypy.__file__).parent / "typeshed" / "stubs" / "mypy-extensions"
    shutil.copytree(bundled, dest / "stubs" / "mypy-extensions")
    versions = (dest / "stdlib" / "VERSIONS").read_text().splitlines()
    listed = {row.split(":")[0].strip() for row in versions if ":" in row}
    added = ["_mpy_shed"]
    for path in _files("micropython-esp32-stubs"):
        rel = path.relative_to(site)
        if rel.suffix != ".pyi":
            continue
        target = dest / "stdlib" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        added.append(rel.parts[0].removesuffix(".pyi"))
    extra = sorted({name for name in added if name not in listed})
    (dest / "stdlib" / "VERSIONS").write_text(
        "\n".join(versions + [f"{name}: 3.0-" for name in extra]) + "\n"
    )
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python tools/mpy/typeshed.py DEST", file=sys.stderr)
        sys.exit(2)
    print(build(Path(sys.argv[1])))
