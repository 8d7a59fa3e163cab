"""Only firmware/drivers/ touches the hardware: every other firmware module is
plain logic that the simulator runs under CPython (ARCHITECTURE's layers)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
# MicroPython's hardware and radio modules (ESP32 port and micropython-lib),
# and its TLS (the board's mbedTLS): only the link in drivers/ makes a context.
HARDWARE = frozenset({
    "machine", "network", "esp", "esp32", "espnow", "bluetooth", "ntptime", "onewire",
    "ds18x20", "neopixel", "dht", "webrepl", "uos", "vfs", "pyb", "rp2", "tls", "ssl",
})


def hardware_imports(source: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in HARDWARE]
    return found


def offenders(root: Path) -> dict[str, list[str]]:
    out = {}
    for source in sorted(root.rglob("*.py")):
        if "drivers" in source.relative_to(root).parts:
            continue
        names = hardware_imports(source)
        if names:
            out[str(source.relative_to(root))] = names
    return out


def test_only_drivers_import_hardware_modules() -> None:
    assert offenders(FIRMWARE) == {}


def test_the_check_sees_a_hardware_import_anywhere(tmp_path: Path) -> None:
    (tmp_path / "drivers").mkdir()
    (tmp_path / "drivers" / "pin.py").write_text("import machine\n")
    (tmp_path / "main.py").write_text("def f():\n    import machine\n    return machine\n")
    (tmp_path / "app.py").write_text("from esp32 import NVS\nimport json\n")
    assert offenders(tmp_path) == {"app.py": ["esp32"], "main.py": ["machine"]}
