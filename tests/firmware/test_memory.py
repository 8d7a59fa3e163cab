"""RAM of a machine node under real MicroPython 1.27, and the ACL size limit
that fits in it.

The node runs all its tasks on asyncio with its MQTT client connected (over
in-memory stream objects to a broker coroutine in the same interpreter:
tests/firmware/mp/memory_cycle.py says how), holds a 200-badge ACL, and has
decided a badge, sampled power, sent telemetry and status and had them
acknowledged. Modules are loaded as .mpy files, whose bytecode stays in RAM;
frozen into the image (tools/mpy/manifest.py) the bytecode, constants and
names stay in flash, and only the node's state and the module, class and
function objects are left.

The ACL limit (protocol.wire.MAX_ACL_BADGES) is checked against the heap an
ESP32 without PSRAM gives MicroPython 1.27 (ESP32_GENERIC: 56 KiB at boot,
grown once on demand to 112 KiB while leaving the IDF room for Wi-Fi and a
TLS session; ports/esp32/mpconfigport.h), less a margin for fragmentation."""

from __future__ import annotations

from pathlib import Path

from protocol import wire
from tests.firmware.micropython import MP_DIR, report, run
from tools.mpy.build import build as build_mpy

HEAP = 2 * 56 * 1024
MARGIN = 8 * 1024
# Estimate: module dicts, classes and function objects of the ~35 modules a
# machine node loads stay in RAM when frozen (about 200 functions x 32 B plus
# their dicts).
FROZEN_OBJECTS = 8 * 1024
SCENARIO_BADGES = 200


def measure(tmp_path: Path) -> dict[str, int]:
    build_mpy(tmp_path)
    figures: dict[str, int] = report(run(MP_DIR / "memory_cycle.py", code=tmp_path), "MEMORY")
    return figures


def test_machine_node_ram_and_the_acl_limit(tmp_path: Path) -> None:
    fig = measure(tmp_path)
    # The cycle really ran: a decision, telemetry, MQTT traffic both ways.
    assert fig["messages"]["telemetry"] >= 1 and fig["messages"]["event"] >= 2, fig
    assert fig["broker_received"] >= 4 and fig["restarts"] == 0, fig
    assert fig["acl_badges"] == SCENARIO_BADGES and fig["max_acl_badges"] == wire.MAX_ACL_BADGES
    per_badge = fig["acl_extra"] / wire.MAX_ACL_BADGES  # fixed costs included: conservative
    mpy_total = fig["connected"]
    frozen_total = fig["node_state"] + FROZEN_OBJECTS
    frozen_limit = int((HEAP - MARGIN - frozen_total) / per_badge)
    mpy_limit = int((HEAP - MARGIN - mpy_total) / per_badge)
    print(
        f"\nMicroPython heap of a machine node, MQTT connected, {SCENARIO_BADGES}-badge ACL:"
        f"\n  .mpy files: {mpy_total} B ({fig['imports']} B code and module objects, "
        f"{fig['node_state']} B state; {fig['connected_min']} B at the lowest sample)"
        f"\n  frozen image (estimate): {frozen_total} B ({fig['node_state']} B state + "
        f"{FROZEN_OBJECTS} B module objects)"
        f"\n  receiving a {wire.MAX_ACL_BADGES}-badge ACL ({wire.MAX_ACL_PAYLOAD} B): peak "
        f"+{fig['acl_extra']} B, {per_badge:.1f} B per badge"
        f"\n  ACL that fits in {HEAP} B less {MARGIN} B: {frozen_limit} badges frozen, "
        f"{mpy_limit} badges with .mpy files; the api enforces {wire.MAX_ACL_BADGES}"
    )
    assert frozen_limit >= wire.MAX_ACL_BADGES, (frozen_limit, fig)
    assert mpy_total + MARGIN <= HEAP, fig  # the scenario itself fits with .mpy files
