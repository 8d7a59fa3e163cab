"""Small helpers over time-ordered rows shared by the rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alerts.config import OpeningHours
from alerts.findings import Row

DeviceKey = tuple[str, str]  # (site, device)


def with_fields(rows: Sequence[Row], *names: str) -> list[Row]:
    """Rows where every named field is present (SELECT * fills absent ones with null)."""
    return [r for r in rows if all(r.get(n) is not None for n in names)]


def held_since(rows: Sequence[Row], condition: Callable[[Row], bool]) -> int | None:
    """Time of the first row of the trailing run where `condition` holds, or None
    when the newest row breaks it."""
    since: int | None = None
    for row in reversed(rows):
        if not condition(row):
            break
        since = int(row["time"])
    return since


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def local_time(ms: int, timezone: str) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZoneInfo(timezone))


def in_opening_hours(ms: int, hours: OpeningHours) -> bool:
    local = local_time(ms, hours.timezone)
    return local.weekday() in hours.days and hours.start_hour <= local.hour < hours.end_hour


def evidence(
    rows: Sequence[Row], fields: Sequence[str], since_ms: int, limit: int = 30
) -> list[Row]:
    """The readings behind a finding: rows from `since_ms` on, thinned evenly to
    at most `limit` (the first and the newest always kept)."""
    chosen = [r for r in rows if int(r["time"]) >= since_ms] or list(rows[-1:])
    if len(chosen) > limit:
        step = (len(chosen) - 1) / (limit - 1)
        chosen = [chosen[round(i * step)] for i in range(limit)]
    return [{"time": int(r["time"]), **{f: r.get(f) for f in fields if f in r}} for r in chosen]
