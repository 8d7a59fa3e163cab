"""A run that ends in the present: the past at the fast clock, then the real clock.

`python -m simulator --live --history-days D` starts the building D days ago
(or where its last live run in the same workdir stopped, if that is later: the
clock file), plays those days at the fast clock, and once the nodes' time has
caught up with the real one, follows the real clock second for second. Every
reading carries its real time (now - D days .. now, then now), so the servers,
which run on the real clock, see a building that has been running all along.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from simulator.fleet import Fleet
from simulator.vloop import VirtualTimeLoop

CLOCK_FILE = "clock.json"
DAY_S = 86400.0


def iso(unix_ms: float) -> str:
    return datetime.fromtimestamp(unix_ms / 1000, UTC).isoformat(timespec="seconds")


def start_ms(workdir: Path, history_s: float, now_ms: int) -> int:
    """Where the run begins: `history_s` ago, or where the last one stopped if later."""
    start = now_ms - int(history_s * 1000)
    try:
        last = int(json.loads((workdir / CLOCK_FILE).read_text())["unix_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return start
    return max(start, min(last, now_ms))


def save_clock(workdir: Path, unix_ms: int) -> None:
    path = workdir / CLOCK_FILE
    path.write_text(json.dumps({"unix_ms": unix_ms, "at": iso(unix_ms)}))


async def report_days(fleet: Fleet, say: Callable[[str], None]) -> None:
    """`day N at <time>` at each UTC midnight the fleet's clock passes: how far a
    run at the fast clock has come (for whoever drives the world meanwhile)."""
    day = 0
    while True:
        now_ms = fleet.unix_ms()
        midnight_ms = (now_ms // 86_400_000 + 1) * 86_400_000
        await asyncio.sleep((midnight_ms - now_ms) / 1000)
        day += 1
        say(f"day {day} at {iso(fleet.unix_ms())}")


async def catch_up(loop: VirtualTimeLoop, fleet: Fleet, say: Callable[[str], None],
                   wall_ms: Callable[[], float] = lambda: time.time() * 1000) -> None:
    """At the fast clock until the fleet's time reaches the real one (saying each
    day that passes), then follow the real clock."""
    while True:
        behind_s = (wall_ms() - fleet.unix_ms()) / 1000
        if behind_s <= 0.001:
            break
        await asyncio.sleep(min(behind_s, DAY_S))
        if behind_s > DAY_S:
            left = (wall_ms() - fleet.unix_ms()) / 1000 / DAY_S
            say(f"history at {iso(fleet.unix_ms())}, {left:.1f} days to go")
    loop.follow_real_clock()


async def live_part(loop: VirtualTimeLoop, fleet: Fleet, workdir: Path,
                    boiler_fails_after_s: float | None, say: Callable[[str], None]) -> None:
    """The history, then the live run: the boiler failure if asked, and the
    clock file kept every minute so that a restart fills only the gap."""
    await catch_up(loop, fleet, say)
    save_clock(workdir, fleet.unix_ms())
    say(f"live on the real clock from {iso(fleet.unix_ms())}")
    fails_at = None if boiler_fails_after_s is None else fleet.now_s() + boiler_fails_after_s
    while True:
        now = fleet.now_s()
        if fails_at is not None and now >= fails_at:
            fleet.fail_boiler()
            say(f"boiler failed at {iso(fleet.unix_ms())}")
            fails_at = None
        wake = 60.0 if fails_at is None else min(60.0, fails_at - now)
        await asyncio.sleep(wake)
        save_clock(workdir, fleet.unix_ms())
