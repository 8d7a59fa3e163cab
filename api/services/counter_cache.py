"""Machine counters per 15-minute slot, cached in SQL so that a split does not
rescan a year of 1-minute points in InfluxDB each time.

Slots older than SETTLE (late data: nodes replay their outbox after an
outage) are copied once, compacted (only where the counter changes, plus the
ends of flat runs: the split is the same, see split_input.compact); newer
slots are always read live. A replay older than SETTLE needs `python -m
api.cli refresh-counters --rebuild`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.models import CounterSlot, CounterWatermark, Device, Site
from api.services.errors import Unavailable
from timeseries import InfluxClient, InfluxError, quote_string, rfc3339, rollup
from timeseries.rollup import ROLLUP_15M

SLOT_MS = 15 * 60_000
SETTLE = timedelta(days=2)
# Before the first refresh: how far back InfluxDB is read (a bill covers at most a year).
HISTORY = timedelta(days=400)


def compact(points: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop readings inside a run of equal values, keeping the run's ends.

    The engine spreads each delta evenly between consecutive readings, so a
    flat run contributes zero whether its inner readings are there or not: the
    split is the same, and an idle machine's month shrinks to a few readings."""
    kept: list[tuple[int, int]] = []
    last = len(points) - 1
    for i, (ms, wh) in enumerate(points):
        if i in (0, last) or wh != points[i - 1][1] or wh != points[i + 1][1]:
            kept.append((ms, wh))
    return kept


def query_counters(
    reader: InfluxClient, site: str, devices: Iterable[str], start: datetime, end: datetime
) -> dict[str, list[tuple[int, int]]]:
    """Per device: (end of 15-minute slot in ms, last `wh` reading in that slot)."""
    names = sorted(set(devices))
    if not names:
        return {}
    query = (
        f'SELECT last("wh") FROM "telemetry" WHERE "site" = {quote_string(site)} AND ('
        + " OR ".join(f'"device" = {quote_string(d)}' for d in names)
        + f") AND time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}'"
        + ' GROUP BY time(15m), "device" fill(none)'
    )
    slots: dict[str, dict[int, int]] = {}
    # Raw readings first; where raw ones are gone (bounded retention) the 15-minute
    # rollup holds the same last reading per slot, so the split stays exact.
    rolled = rollup.query_rolled_up(reader, query, ROLLUP_15M.policy)
    for series in [*reader.query(query), *rolled]:
        found = slots.setdefault(series.tags["device"], {})
        for t, v in series.values:
            # InfluxDB labels a bucket with its start; its last reading lies before the end.
            found.setdefault(int(t) + SLOT_MS, int(v))
    return {device: sorted(found.items()) for device, found in slots.items()}


def _settled(now: datetime) -> int:
    edge = int((now - SETTLE).timestamp() * 1000)
    return edge - edge % SLOT_MS


# One refresh at a time in this process (background task vs a split).
_refresh_lock = threading.Lock()


def refresh(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    now: datetime | None = None,
) -> int:
    """Copy settled slots newer than each device's watermark; returns rows added.
    The caller commits; another process refreshing at the same moment makes that
    commit fail on the primary key, which the caller may ignore."""
    with _refresh_lock:
        return _refresh(session, reader, site, devices, now)


def _refresh(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    now: datetime | None,
) -> int:
    if not devices:
        return 0
    until = _settled(now or datetime.now(UTC))
    marks = {
        m.device_id: m
        for m in session.scalars(
            select(CounterWatermark).where(CounterWatermark.device_id.in_([d.id for d in devices]))
        )
    }
    default = until - int(HISTORY.total_seconds() * 1000)
    start = min(marks[d.id].until_ms if d.id in marks else default for d in devices)
    if start >= until:
        return 0
    # Both ends are slot boundaries: every bucket read is whole (labelled by its end).
    found = query_counters(reader, site, [d.name for d in devices], _dt(start), _dt(until))
    added = 0
    for device in devices:
        mark = marks.get(device.id)
        since = mark.until_ms if mark else default
        rows = [(t, wh) for t, wh in found.get(device.name, []) if since < t <= until]
        for t, wh in compact(rows):
            session.add(CounterSlot(device_id=device.id, slot_end_ms=t, wh=wh))
            added += 1
        if mark is None:
            session.add(CounterWatermark(device_id=device.id, until_ms=until))
        else:
            mark.until_ms = until
    session.flush()
    return added


def counted_devices(session: Session, site_id: int) -> list[Device]:
    """Devices whose `wh` counter a split reads: machine nodes and meters."""
    return list(
        session.scalars(
            select(Device)
            .where(Device.site_id == site_id, Device.role.in_(("machine", "meter")))
            .order_by(Device.name)
        )
    )


def rebuild(session: Session, device_ids: Sequence[int]) -> None:
    """Forget the cache of these devices; the next refresh reads InfluxDB again."""
    session.execute(delete(CounterSlot).where(CounterSlot.device_id.in_(device_ids)))
    session.execute(delete(CounterWatermark).where(CounterWatermark.device_id.in_(device_ids)))


def refresh_site(
    session: Session, reader: InfluxClient, site: Site, *, rebuild_first: bool = False
) -> tuple[int, int]:
    """Refresh the cache of every counted device of the site (forgotten first with
    `rebuild_first`) and commit; returns (devices, rows added)."""
    devices = counted_devices(session, site.id)
    if rebuild_first:
        rebuild(session, [d.id for d in devices])
    try:
        added = refresh(session, reader, site.name, devices)
    except InfluxError as exc:
        raise Unavailable(str(exc)) from exc
    session.commit()
    return len(devices), added


def read(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    start_ms: int,
    end_ms: int,
) -> dict[str, list[tuple[int, int]]]:
    """Per device name: (slot end ms, wh) covering [start_ms, end_ms) and the nearest
    reading on either side, cached part then live part."""
    marks = dict(
        session.execute(
            select(CounterWatermark.device_id, CounterWatermark.until_ms).where(
                CounterWatermark.device_id.in_([d.id for d in devices])
            )
        ).all()
    )
    out: dict[str, list[tuple[int, int]]] = {}
    live_from = end_ms
    for device in devices:
        until = marks.get(device.id, 0)
        rows: list[tuple[int, int]] = []
        if until > start_ms:
            before = session.scalar(
                select(func.max(CounterSlot.slot_end_ms)).where(
                    CounterSlot.device_id == device.id, CounterSlot.slot_end_ms < start_ms
                )
            )
            low = before if before is not None else start_ms
            # Likewise the first reading after the window: a flat run's far end is all that
            # is kept of it, and without it the end of the period would look like a gap.
            upper = min(until, end_ms)
            after = session.scalar(
                select(func.min(CounterSlot.slot_end_ms)).where(
                    CounterSlot.device_id == device.id, CounterSlot.slot_end_ms > upper
                )
            )
            high = after if after is not None else upper
            rows = [
                (t, wh)
                for t, wh in session.execute(
                    select(CounterSlot.slot_end_ms, CounterSlot.wh)
                    .where(
                        CounterSlot.device_id == device.id,
                        CounterSlot.slot_end_ms >= low,
                        CounterSlot.slot_end_ms <= high,
                    )
                    .order_by(CounterSlot.slot_end_ms)
                ).all()
            ]
        out[device.name] = rows
        live_from = min(live_from, max(until, start_ms))
    if live_from < end_ms:
        live = query_counters(reader, site, [d.name for d in devices], _dt(live_from), _dt(end_ms))
        for device in devices:
            until = marks.get(device.id, 0)
            tail = [(t, wh) for t, wh in live.get(device.name, []) if t > until]
            out[device.name].extend(tail)
    return out


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
