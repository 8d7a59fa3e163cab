"""At most a few password checks at once. Each scrypt check holds 16 MiB and a core
for ~0.1 s (api/security.py), so a burst of logins must not become a burst of memory and
threads: the slots are what the memory allowed (API_LOGIN_MEMORY_MIB) holds, and never
more than the cores less one (the last core keeps answering everything else); a short
queue waits for them, and whoever finds the queue full, or waits too long, is refused
at once (503 with Retry-After) instead of piling up."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.security import SCRYPT_MEMORY_BYTES
from api.services.errors import Busy

# Callers that may wait for a slot, per slot, and for how long.
QUEUE_PER_SLOT = 8
WAIT_S = 2.0


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class PasswordChecks:
    def __init__(self, memory_bytes: int, cores: int | None = None) -> None:
        by_memory = memory_bytes // SCRYPT_MEMORY_BYTES
        self.slots = max(1, min(by_memory, (cores or _cores()) - 1))
        self.max_waiting = QUEUE_PER_SLOT * self.slots
        self._free = asyncio.Semaphore(self.slots)
        self._waiting = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds one slot for the body; raises Busy when none comes soon enough."""
        if self._waiting >= self.max_waiting:
            raise Busy("too many logins at once: try again in a second", retry_after_s=1)
        self._waiting += 1
        try:
            async with asyncio.timeout(WAIT_S):
                await self._free.acquire()
        except TimeoutError:
            raise Busy("too many logins at once: try again in a second", retry_after_s=1) from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._free.release()
