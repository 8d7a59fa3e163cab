"""Each simulated node's hardware, built from the device models of
simulator/devices and wired to the plant: the clamp on its machine's load,
the probes on the building's pipes and rooms, the S0 output on the utility
meter. The models are the node's physical parts and outlive a power cut
(their volatile state is reset at power-on); the firmware's own drivers run
on them through a `Port` whose time is the event loop's."""

from __future__ import annotations

import asyncio
from typing import Any


class LoopTime:
    """Model time for the device port: the event loop's clock. Time the
    drivers spend in bus transfers and blocking waits moves a
    VirtualTimeLoop's clock on (timers fire late, as on a board that was
    busy); on a plain loop it runs ahead of the loop's clock instead."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._cursor = 0

    def now_us(self) -> int:
        loop_us = int(self.loop.time() * 1_000_000)
        if loop_us > self._cursor:
            self._cursor = loop_us
        return self._cursor

    def advance_us(self, us: int) -> None:
        self._cursor = self.now_us() + int(us)
        advance = getattr(self.loop, "advance", None)
        if advance is not None:
            advance(us / 1_000_000)

    def sleep(self, port: Any, ms: int) -> Any:
        return _sleep(port, ms)


async def _sleep(port: Any, ms: int) -> None:
    port.scheduler_point()
    await asyncio.sleep(ms / 1000)
    port.sync()
