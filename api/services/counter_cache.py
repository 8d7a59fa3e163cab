"""Machine counters per 15-minute slot, cached in SQL so that a split does not
rescan a year of 1-minute points in InfluxDB each time.

Slots older than SETTLE are copied, compacted (only where the counter changes,
plus the ends of flat runs and of each UTC day: the split is the same, see
compact); newer slots are always read live. Points that arrive after their
slot was copied (a node replaying its outbox, the gateway draining its spool)
leave a late-write marker per device and day (timeseries.arrivals); every
refresh, and so every split, reads the markers first and copies again the
cached days whose marker changed. The day ends kept by the compaction make a
day replaceable on its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.models import CounterLateWrite, CounterSlot, CounterWatermark, Device, Site
from api.services.errors import Unavailable
from timeseries import (
    InfluxClient,
    InfluxError,
    arrivals,
    quote_ident,
    quote_string,
    rfc3339,
    rollup,
)
from timeseries.rollup import ROLLUP_15M

log = logging.getLogger(__name__)

SLOT_MS = 15 * 60_000
DAY_MS = arrivals.DAY_MS
# Longer than arrivals.LATE_MS: a point written later than that leaves a marker,
# one written sooner is in InfluxDB before its slot is copied (the margin is for
# the clocks of the gateway and the api, which may differ).
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


def slot_day(key_ms: int) -> int:
    """The UTC day (its start, ms) whose points a slot holds, from a key of the
    slot (its end, or just after its reading: within (slot start, slot end])."""
    return arrivals.day_start(key_ms - 1)


def slot_ends(points: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The points keyed by their slot's end instead of the reading's moment."""
    return [((key - 1) // SLOT_MS * SLOT_MS + SLOT_MS, wh) for key, wh in points]


def compact_days(points: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """compact() within each UTC day: the first and last reading of every day are
    kept, so that one day can be copied again alone and its neighbours' readings
    still hold everything the split needs."""
    kept: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(points) + 1):
        if i == len(points) or slot_day(points[i][0]) != slot_day(points[first][0]):
            kept.extend(compact(points[first:i]))
            first = i
    return kept


def query_counters(
    reader: InfluxClient, site: str, devices: Iterable[str], start: datetime, end: datetime
) -> dict[str, list[tuple[int, int]]]:
    """Per device: the first and the last `wh` reading of each 15-minute slot,
    (key ms, wh), the key 1 ms after the reading's own moment (so within (slot
    start, slot end]).

    A counter only rises, so a slot's lowest reading is its first and its
    highest its last; `bottom()` and `top()` (unlike `first()` and `last()`,
    which InfluxDB labels with the bucket's start) keep the readings' own
    times. With both, the energy between two readings is placed between them,
    as the engine spreads it: across a slot boundary only for the time between
    the readings on either side. With the last alone, stamped at the slot's
    end, a slot held up to a reporting period of its neighbour's energy: a
    session that began or ended in it looked as if it drew that much later,
    and a building's quarter-hour peak moved. Where the counter did not rise
    in the slot, its one point is the first reading (InfluxDB gives the
    earliest of equal values): the energy up to the next reading is spread from
    there, unless a session snapshot in between says where it began. Stamping
    it at the slot's end instead would claim the counter held still up to a
    moment no reading saw, past a session that began in the slot."""
    names = sorted(set(devices))
    if not names:
        return {}

    def where(measurement: str) -> str:
        return (
            f'FROM {quote_ident(measurement)} WHERE "site" = {quote_string(site)} AND ('
            + " OR ".join(f'"device" = {quote_string(d)}' for d in names)
            + f") AND time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}'"
            + ' GROUP BY time(15m), "device" fill(none)'
        )

    # device -> slot start -> (moment, wh) of its first / last reading
    first: dict[str, dict[int, tuple[int, int]]] = {}
    last: dict[str, dict[int, tuple[int, int]]] = {}
    for selector, found_in in (("bottom", first), ("top", last)):
        # Raw readings; where retention dropped them, the rollup's copy of the
        # same two readings per slot (timeseries/rollup.py, counter_edge).
        raw = reader.query(f'SELECT {selector}("wh", 1) {where("telemetry")}')
        edges = rollup.query_rolled_up(
            reader, f'SELECT {selector}("wh", 1) {where(rollup.COUNTER_EDGE)}', ROLLUP_15M.policy
        )
        for series in [*raw, *edges]:
            found = found_in.setdefault(series.tags["device"], {})
            for t, v in series.values:
                found.setdefault(int(t) - int(t) % SLOT_MS, (int(t), int(v)))
    # Rolled up before counter_edge existed: each slot's last reading only,
    # labelled with the slot's start; its end is the key.
    old = f'SELECT top("wh", 1) {where("telemetry")}'
    for series in rollup.query_rolled_up(reader, old, ROLLUP_15M.policy):
        found = last.setdefault(series.tags["device"], {})
        for t, v in series.values:
            found.setdefault(int(t), (int(t) + SLOT_MS - 1, int(v)))
    out = {}
    for device, lasts in last.items():
        firsts = first.get(device, {})
        keyed: list[tuple[int, int]] = []
        for slot in sorted(lasts):
            moment, wh = lasts[slot]
            begin = firsts.get(slot)
            if begin is None:  # a rolled-up slot: its last reading only
                keyed.append((slot + SLOT_MS, wh))
                continue
            keyed.append((begin[0] + 1, begin[1]))
            if begin[1] != wh:
                keyed.append((moment + 1, wh))
        out[device] = keyed
    return out


def _settled(now: datetime) -> int:
    edge = int((now - SETTLE).timestamp() * 1000)
    return edge - edge % SLOT_MS


# One refresh at a time in this process (background task vs a split).
_refresh_lock = threading.Lock()


class Refreshed(NamedTuple):
    rows: int  # slot rows written (new slots and days copied again)
    late_days: int  # cached (device, day)s copied again after late writes


def refresh(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    now: datetime | None = None,
) -> Refreshed:
    """Copy again the cached days that were written late, then the settled slots
    newer than each device's watermark. The caller commits; another process
    refreshing at the same moment makes that commit fail on the primary key,
    which the caller may ignore."""
    with _refresh_lock:
        return _refresh(session, reader, site, devices, now)


def _refresh(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    now: datetime | None,
) -> Refreshed:
    if not devices:
        return Refreshed(0, 0)
    until = _settled(now or datetime.now(UTC))
    marks = {
        m.device_id: m
        for m in session.scalars(
            select(CounterWatermark).where(CounterWatermark.device_id.in_([d.id for d in devices]))
        )
    }
    # The markers before any point: whatever a marker announces was stored before it.
    late = _late_days(session, reader, site, devices, marks)
    rows = _copy_again(session, reader, site, devices, marks, late)
    default = until - int(HISTORY.total_seconds() * 1000)
    start = min(marks[d.id].until_ms if d.id in marks else default for d in devices)
    if start < until:
        # Both ends are slot boundaries: every bucket read is whole (labelled by its end).
        found = query_counters(reader, site, [d.name for d in devices], _dt(start), _dt(until))
        for device in devices:
            mark = marks.get(device.id)
            since = mark.until_ms if mark else default
            kept = compact_days([(t, wh) for t, wh in found.get(device.name, []) if since < t])
            rows += _store(session, device.id, kept)
            if mark is None:
                session.add(CounterWatermark(device_id=device.id, until_ms=until))
            else:
                mark.until_ms = until
    session.flush()
    return Refreshed(rows, sum(len(days) for days in late.values()))


def _late_days(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    marks: dict[int, CounterWatermark],
) -> dict[int, list[int]]:
    """Per device id, the cached days whose late-write marker is new or changed
    since the last refresh; the markers are remembered as seen."""
    by_name = {d.name: d for d in devices}
    by_id = {d.id: d for d in devices}
    seen = {
        (row.device_id, row.day_ms): row
        for row in session.scalars(
            select(CounterLateWrite).where(CounterLateWrite.device_id.in_(list(by_id)))
        )
    }
    query = (
        f"SELECT {quote_ident(arrivals.FIELD)} FROM {quote_ident(arrivals.MEASUREMENT)}"
        f' WHERE "site" = {quote_string(site)} AND ('
        + " OR ".join(f'"device" = {quote_string(name)}' for name in sorted(by_name))
        + ') GROUP BY "device"'
    )
    late: dict[int, list[int]] = {}
    for series in reader.query(query):
        device = by_name.get(series.tags["device"])
        if device is None:
            continue
        for day_value, written_value in series.values:
            day, written = int(day_value), int(written_value)
            row = seen.get((device.id, day))
            if row is None:
                session.add(CounterLateWrite(device_id=device.id, day_ms=day, written_ms=written))
            elif row.written_ms != written:
                row.written_ms = written
            else:
                continue
            mark = marks.get(device.id)
            if mark is not None and day < mark.until_ms:
                late.setdefault(device.id, []).append(day)
    return late


def _copy_again(
    session: Session,
    reader: InfluxClient,
    site: str,
    devices: Sequence[Device],
    marks: dict[int, CounterWatermark],
    late: dict[int, list[int]],
) -> int:
    """Replace the cached slots of each late (device, day) with what InfluxDB holds
    now; one query per run of consecutive days. Returns the rows written."""
    names = {d.id: d.name for d in devices}
    rows = 0
    for first, last in _runs({day for days in late.values() for day in days}):
        ids = [i for i, days in late.items() if any(first <= d <= last for d in days)]
        end = min(last + DAY_MS, max(marks[i].until_ms for i in ids))
        found = query_counters(reader, site, [names[i] for i in ids], _dt(first), _dt(end))
        for i in ids:
            for day in sorted(d for d in late[i] if first <= d <= last):
                upper = min(day + DAY_MS, marks[i].until_ms)
                session.execute(
                    delete(CounterSlot).where(
                        CounterSlot.device_id == i,
                        CounterSlot.slot_end_ms > day,
                        CounterSlot.slot_end_ms <= upper,
                    )
                )
                kept = compact([(t, wh) for t, wh in found.get(names[i], []) if day < t <= upper])
                rows += _store(session, i, kept)
            log.info(
                "counter slots copied again after late writes",
                extra={"device": names[i], "days": len(late[i])},
            )
    return rows


def _store(session: Session, device_id: int, kept: Sequence[tuple[int, int]]) -> int:
    session.add_all(CounterSlot(device_id=device_id, slot_end_ms=t, wh=wh) for t, wh in kept)
    return len(kept)


def _runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted day starts -> (first, last) of each run of consecutive days."""
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + DAY_MS:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


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
    for table in (CounterSlot, CounterWatermark, CounterLateWrite):
        session.execute(delete(table).where(table.device_id.in_(device_ids)))


def refresh_site(
    session: Session, reader: InfluxClient, site: Site, *, rebuild_first: bool = False
) -> tuple[int, Refreshed]:
    """Refresh the cache of every counted device of the site (forgotten first with
    `rebuild_first`) and commit; returns (devices, what was copied)."""
    devices = counted_devices(session, site.id)
    if rebuild_first:
        rebuild(session, [d.id for d in devices])
    try:
        refreshed = refresh(session, reader, site.name, devices)
    except InfluxError as exc:
        raise Unavailable(str(exc)) from exc
    session.commit()
    return len(devices), refreshed


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
