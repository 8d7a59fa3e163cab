"""At most a few password checks at once. Each scrypt check holds 16 MiB while it runs
(api/security.py), so a burst of logins must not become a burst of memory and threads:
the slots are sized from the memory allowed (API_LOGIN_MEMORY_MIB), a short queue waits
for them, and whoever finds the queue full, or waits too long, is refused at once (503
with Retry-After) instead of piling up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.security import SCRYPT_MEMORY_BYTES
from api.services.errors import Busy

# Callers that may wait for a slot, per slot, and for how long.
QUEUE_PER_SLOT = 4
WAIT_S = 2.0


class PasswordChecks:
    def __init__(self, memory_bytes: int) -> None:
        self.slots = max(1, memory_bytes // SCRYPT_MEMORY_BYTES)
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
