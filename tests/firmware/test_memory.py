"""RAM of a machine node under real MicroPython: after start and one full
cycle, with the modules loaded as .mpy files as on a board. Budget: 60 KB,
what an ESP32 without PSRAM can spare next to Wi-Fi and TLS buffers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tools.mpy.build import build as build_mpy

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "tools" / "mpy" / "run.mjs"
BUDGET = 60 * 1024


def test_machine_node_fits_the_ram_budget(tmp_path: Path) -> None:
    build_mpy(tmp_path)
    result = subprocess.run(
        ["node", str(RUNNER),
         "--mount", f"{tmp_path / 'firmware'}:/app/firmware",
         "--mount", f"{tmp_path / 'protocol'}:/app/protocol",
         str(Path(__file__).parent / "mp" / "memory_cycle.py")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = [row for row in result.stdout.splitlines() if row.startswith("MEMORY ")][-1]
    figures = json.loads(line.split(" ", 1)[1])
    # The cycle really ran: a decision, a telemetry message and MQTT bytes.
    assert figures["messages"] == {"telemetry": 1, "event": 2}
    assert figures["mqtt_bytes"] > 300
    print(f"\nMicroPython heap of a machine node: {figures['imports']} B code and module "
          f"objects, {figures['node_state']} B state after start and one cycle, "
          f"{figures['after_cycle']} B in all (budget {BUDGET} B)")
    assert figures["after_cycle"] < BUDGET, figures
