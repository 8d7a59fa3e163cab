"""Badge sessions on the machines, rebuilt from the gateway's `event` points."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from timeseries import InfluxClient, quote_string, rfc3339, rollup
from timeseries.rollup import ROLLUP_15M


@dataclass(frozen=True)
class MachineSession:
    device: str
    sid: int
    badge: str
    start_ms: int
    end_ms: int | None  # None: still running (or its end never arrived)
    reason: str = ""
    # Energy from the `ct_wh` counter snapshots the node puts on start and end events.
    wh: int | None = None
    # The snapshots themselves: the machine's counter at the start and at the end.
    start_wh: int | None = None
    end_wh: int | None = None


def read_sessions(
    reader: InfluxClient,
    site: str,
    start: datetime,
    end: datetime,
    badges: Iterable[str] | None = None,
) -> list[MachineSession]:
    """Sessions overlapping [start, end). With `badges`, only those badges'."""
    where = [
        f'"site" = {quote_string(site)}',
        "(\"kind\" = 'session_start' OR \"kind\" = 'session_end')",
        f"time >= '{rfc3339(start)}' - 1d",
        f"time < '{rfc3339(end)}' + 1d",
    ]
    if badges is not None:
        wanted = sorted(set(badges))
        if not wanted:
            return []
        where.append("(" + " OR ".join(f'"badge" = {quote_string(b)}' for b in wanted) + ")")
    query = (
        'SELECT "sid", "badge", "kind", "reason", "ct_wh" FROM "event" WHERE '
        + " AND ".join(where)
        + ' GROUP BY "device"'
    )
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    # Raw events, and their copies in the rollup for what bounded retention dropped.
    rows: dict[str, dict[tuple[object, ...], dict[str, object]]] = {}
    rolled = rollup.query_rolled_up(reader, query, ROLLUP_15M.policy)
    for series in [*reader.query(query), *rolled]:
        kept = rows.setdefault(series.tags.get("device", ""), {})
        for row in series.rows:
            kept.setdefault((row["time"], row["kind"], row.get("sid")), row)
    sessions: list[MachineSession] = []
    for device, found_rows in rows.items():
        for found in _pair(device, found_rows.values()):
            if found.start_ms < end_ms and (found.end_ms is None or found.end_ms > start_ms):
                sessions.append(found)
    sessions.sort(key=lambda s: (s.start_ms, s.device))
    return sessions


def _pair(device: str, rows: Iterable[Mapping[str, object]]) -> list[MachineSession]:
    """Match each session_start with the session_end of the same sid; a start
    without an end is closed by the device's next start, or left open."""
    ordered = sorted(rows, key=lambda r: _as_int(r["time"]))
    found: list[MachineSession] = []
    open_start: dict[str, object] | None = None
    for row in ordered:
        if row["kind"] == "session_start":
            if open_start is not None:
                found.append(_session(device, open_start, None, "superseded", row["time"]))
            open_start = dict(row)
        elif open_start is not None and row.get("sid") == open_start.get("sid"):
            reason = str(row.get("reason") or "")
            found.append(_session(device, open_start, row, reason))
            open_start = None
    if open_start is not None:
        found.append(_session(device, open_start, None, "", None))
    return found


def _as_int(value: object) -> int:
    return int(value) if isinstance(value, int | float | str) else 0


def _session(
    device: str,
    start: Mapping[str, object],
    end: Mapping[str, object] | None,
    reason: str,
    end_time: object = None,
) -> MachineSession:
    """`end` is the matching session_end event; otherwise `end_time` (or open)."""
    if end is not None:
        end_time = end["time"]
    wh = None
    start_wh = _as_int(start["ct_wh"]) if start.get("ct_wh") is not None else None
    end_wh = _as_int(end["ct_wh"]) if end is not None and end.get("ct_wh") is not None else None
    if start_wh is not None and end_wh is not None:
        delta = end_wh - start_wh
        wh = delta if delta >= 0 else None  # a reset mid-session: unknown, not negative
    return MachineSession(
        device=device,
        sid=_as_int(start.get("sid")),
        badge=str(start.get("badge") or ""),
        start_ms=_as_int(start["time"]),
        end_ms=None if end_time is None else _as_int(end_time),
        reason=reason,
        wh=wh,
        start_wh=start_wh,
        end_wh=end_wh,
    )
