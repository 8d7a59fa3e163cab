"""Which devices are online: from their status messages (the last will says
offline) and from silence longer than a timeout.

Each gateway instance judges only the traffic it sees; with a shared
subscription every instance still sees a share of each device's messages, so
the timeout should be several publish intervals long."""

from __future__ import annotations

import threading
from typing import NamedTuple


class Change(NamedTuple):
    site: str
    device: str
    online: bool
    state: str  # "silent" (timed out) or "seen" (traffic after silence or offline)


class Liveness:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._last_seen: dict[tuple[str, str], float] = {}
        self._online: dict[tuple[str, str], bool] = {}

    def status(self, site: str, device: str, online: bool, now: float) -> None:
        """The device said so itself: its status message or last will."""
        key = (site, device)
        with self._lock:
            self._last_seen[key] = now
            self._online[key] = online

    def seen(self, site: str, device: str, now: float) -> Change | None:
        """Any traffic; a device that was silent or offline is back."""
        key = (site, device)
        # Hot path (every message): one dict store, atomic under the GIL.
        self._last_seen[key] = now
        if self._online.get(key) is True:
            return None
        with self._lock:
            was = self._online.get(key)
            self._online[key] = True
        return Change(site, device, True, "seen") if was is False else None

    def expire(self, now: float) -> list[Change]:
        changes = []
        with self._lock:
            for key, last in self._last_seen.items():
                if self._online.get(key) and now - last > self.timeout_s:
                    self._online[key] = False
                    changes.append(Change(key[0], key[1], False, "silent"))
        return changes

    def counts(self) -> tuple[int, int]:
        """(online, known)."""
        with self._lock:
            return sum(self._online.values()), len(self._online)
