"""An asyncio event loop whose clock is virtual.

`loop.time()` is virtual seconds, so every `asyncio.sleep`, `wait_for` and
timer of the firmware's tasks runs on virtual time without the firmware
knowing. Time advances only where the loop would block (in `select`):

- while a real socket is open (a node talks to the broker), the wait is
  really slept, divided by `speed`: a broker round trip of 1 ms costs
  `speed` ms of virtual time, which the MQTT timeouts (seconds) absorb;
- while no socket is open (every node is in an outage, in backoff, or
  offline), nothing real can happen, so the clock jumps straight to the next
  timer: a 25-hour outage takes as long as the CPU needs for its tasks;
- with a `quiet` check (the fleet's "no node waits for a broker reply"),
  the clock also jumps while sockets are open, whenever the check holds:
  a connected week takes as long as the CPU needs, yet every round trip
  still runs on the scaled real clock;
- after `follow_real_clock()`, virtual time is the real time passed since
  that call: a live run, after a past filled in at the fast clock.

Because the clock only moves when every task is idle, runs are repeatable
when no socket is involved, and a task never sees time jump while it works.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable
from typing import Any


class _VirtualSelector(selectors.BaseSelector):
    def __init__(self, loop_clock: list[float], speed: float, fast_forward: bool) -> None:
        self._inner = selectors.DefaultSelector()
        self._now = loop_clock
        self.speed = speed
        self.fast_forward = fast_forward
        self.baseline = 0  # descriptors the loop itself holds (its self-pipe)
        self.quiet: Callable[[], bool] | None = None
        # (virtual, real) at the moment the clock began to follow the real one.
        self.live_anchor: tuple[float, float] | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.live_anchor is not None:
            return self._select_live(timeout)
        if timeout is not None and timeout <= 0:
            return self._inner.select(0)
        idle = len(self._inner.get_map()) <= self.baseline or (
            self.quiet is not None and self.quiet())
        if self.fast_forward and idle:
            ready = self._inner.select(0)
            if ready:
                return ready
            if timeout is None:
                # Nothing scheduled and nothing to wait for: idle for real.
                return self._inner.select(0.05)
            self._now[0] += timeout
            return []
        real_timeout = None if timeout is None else timeout / self.speed
        if real_timeout is not None:
            # Wake up regularly so that a change of speed or a socket closing
            # is noticed; virtual time still advances exactly to the deadline.
            real_timeout = min(real_timeout, 0.25)
        started = time.perf_counter()
        ready = self._inner.select(real_timeout)
        elapsed = (time.perf_counter() - started) * self.speed
        if timeout is not None and not ready and real_timeout == timeout / self.speed:
            elapsed = timeout
        if timeout is not None:
            elapsed = min(elapsed, timeout)
        self._now[0] += elapsed
        return ready

    def _select_live(self, timeout: float | None) -> list[tuple[selectors.SelectorKey, int]]:
        """The real clock: virtual time is the real time passed since the anchor,
        the work of the tasks included (a scaled wait alone would let the
        virtual clock fall behind by every millisecond the nodes compute)."""
        assert self.live_anchor is not None
        ready = self._inner.select(None if timeout is None else max(0.0, min(timeout, 0.25)))
        virtual, real = self.live_anchor
        self._now[0] = max(self._now[0], virtual + time.monotonic() - real)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, speed: float = 1.0, fast_forward: bool = True, start: float = 0.0,
                 quiet: Callable[[], bool] | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._virtual_now = [float(start)]
        self._vselector = _VirtualSelector(self._virtual_now, speed, fast_forward)
        self._vselector.quiet = quiet
        super().__init__(self._vselector)
        self._vselector.baseline = len(self._vselector.get_map())

    def time(self) -> float:
        return self._virtual_now[0]

    @property
    def speed(self) -> float:
        return self._vselector.speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("speed must be positive")
        self._vselector.speed = value

    @property
    def quiet(self) -> Callable[[], bool] | None:
        """True when no real exchange is under way, so time may jump."""
        return self._vselector.quiet

    @quiet.setter
    def quiet(self, check: Callable[[], bool] | None) -> None:
        self._vselector.quiet = check

    def follow_real_clock(self) -> None:
        """From now on virtual time runs with the real clock, second for second
        (a live run after a fast-forwarded past): no jumps, no scaling."""
        self.fast_forward = False
        self.quiet = None
        self.speed = 1.0
        self._vselector.live_anchor = (self._virtual_now[0], time.monotonic())

    @property
    def live(self) -> bool:
        return self._vselector.live_anchor is not None

    @property
    def fast_forward(self) -> bool:
        return self._vselector.fast_forward

    @fast_forward.setter
    def fast_forward(self, value: bool) -> None:
        self._vselector.fast_forward = value
