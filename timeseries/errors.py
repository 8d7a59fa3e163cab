"""What can go wrong talking to InfluxDB, typed by what the caller should do."""

from __future__ import annotations

import re

_DROPPED = re.compile(r"dropped=(\d+)")


class InfluxError(RuntimeError):
    """InfluxDB did not do what was asked. `detail` is its own answer (or the
    transport error), kept for logs and dead letters."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


class InfluxUnavailable(InfluxError):
    """Worth retrying later: down, timing out, 5xx, a database or user not
    created yet, or our credentials refused."""


class InfluxRejected(InfluxError):
    """InfluxDB read the request and refused it (bad line protocol, a field
    type conflict, a bad statement): sending it again cannot help."""


class InfluxPartialWrite(InfluxRejected):
    """InfluxDB stored some points of a batch and refused the others.

    `dropped` is InfluxDB's own count of refused points, which leaves out
    lines it could not parse at all (it reports `dropped=0` for those)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message, detail)
        found = _DROPPED.search(detail)
        self.dropped = int(found.group(1)) if found else None
