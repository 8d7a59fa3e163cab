"""SQL + InfluxDB -> the engine's scenario for one electricity bill.

From SQL: the bill and its tariff's band hours, units, leases (clipped to the
period), badges (hash -> member) and machines (device -> machine). From
InfluxDB (data contract): each machine node's `wh` counter, downsampled to the
last reading per 15-minute slot (the engine spreads deltas over 15-minute
slots anyway), the badge sessions from `event`, and the main meter's `wh`
counter as kWh per slot. The engine then does counter cleaning, gaps,
attribution with grace windows, reconciliation and the rest.

Times go to the engine as the site's local wall-clock time; in the autumn
hour that repeats, readings that would go backwards are dropped (the
counters are cumulative, so this loses resolution, not energy)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.allocation.counters import clean_counter
from api.allocation.scenario import Reading
from api.models import (
    Badge,
    Device,
    ElectricityBill,
    GasBill,
    Lease,
    Machine,
    Member,
    Site,
    Tariff,
    Unit,
)
from api.schemas.bills import ManualReadings
from api.services import counter_cache
from api.services.counter_cache import compact
from api.services.sessions import MachineSession, read_sessions
from timeseries import InfluxClient

SLOT_MINUTES = 15
# A main meter has no rated power; this only has to be above any building's load.
MAIN_METER_LIMIT_KW = Fraction(100_000)


@dataclass
class SplitInput:
    scenario: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    series_points: int = 0  # counter readings passed to the engine


def _dec(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def period_bounds(site: Site, start: date, end: date) -> tuple[datetime, datetime]:
    """[first local midnight, the local midnight after the last day) as aware datetimes."""
    zone = ZoneInfo(site.timezone)
    return (
        datetime.combine(start, time(0), zone),
        datetime.combine(end + timedelta(days=1), time(0), zone),
    )


_EPOCH = datetime(1970, 1, 1)
_HOUR_MS = 3_600_000


class LocalClock:
    """UTC milliseconds -> the site's wall-clock time as ISO text, fast: the UTC
    offset is looked up once per hour (exactly, around a DST change)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._offsets: dict[int, int | None] = {}
        self._days: dict[int, str] = {}
        self._times: dict[int, str] = {}

    def _offset_at(self, ms: int) -> int:
        offset = datetime.fromtimestamp(ms / 1000, UTC).astimezone(self.zone).utcoffset()
        return int(offset.total_seconds() * 1000) if offset is not None else 0

    def __call__(self, ms: int) -> str:
        hour = ms // _HOUR_MS
        if hour not in self._offsets:
            first, last = (
                self._offset_at(hour * _HOUR_MS),
                self._offset_at((hour + 1) * _HOUR_MS - 1),
            )
            self._offsets[hour] = first if first == last else None
        offset = self._offsets[hour]
        if offset is None:  # the offset changes within this hour
            offset = self._offset_at(ms)
        day, in_day = divmod((ms + offset) // 1000, 86_400)
        date_text = self._days.get(day)
        if date_text is None:
            date_text = self._days[day] = (_EPOCH + timedelta(days=day)).date().isoformat()
        clock = self._times.get(in_day)
        if clock is None:  # readings sit on slot boundaries: few distinct times of day
            hours, rest = divmod(in_day, 3600)
            clock = self._times[in_day] = f"T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        return date_text + clock


def _bill_section(session: Session, bill: ElectricityBill) -> dict[str, Any]:
    tariff = session.get(Tariff, bill.tariff_id)
    hours = {b["name"]: b.get("hours") for b in (tariff.bands if tariff else [])}
    bands = []
    for band in bill.bands:
        item: dict[str, Any] = {"name": band.name, "kwh": _dec(band.kwh), "cost": _dec(band.cost)}
        if hours.get(band.name):
            item["hours"] = hours[band.name]
        bands.append(item)
    section: dict[str, Any] = {"bands": bands, "fixed": _dec(bill.fixed_cost)}
    if bill.demand_cost > 0:
        section["demand"] = {
            "cost": _dec(bill.demand_cost),
            "method": tariff.demand_method if tariff else "shapley",
        }
    return section


def _spaces(session: Session, site: Site, start: date, end: date) -> tuple[list[Any], list[Any]]:
    units = session.scalars(select(Unit).where(Unit.site_id == site.id).order_by(Unit.code)).all()
    unit_list = [
        {"id": u.code, "area_m2": _dec(u.area_m2), "weight": _dec(u.weight), "heated": u.heated}
        for u in units
    ]
    code_of_unit = {u.id: u.code for u in units}
    rows = session.execute(
        select(Lease, Member.code)
        .join(Member, Member.id == Lease.member_id)
        .where(
            Lease.unit_id.in_(code_of_unit),
            Lease.start <= end,
            (Lease.end.is_(None)) | (Lease.end >= start),
        )
        .order_by(Lease.start, Lease.id)
    ).all()
    leases = [
        {
            "member": code,
            "unit": code_of_unit[lease.unit_id],
            "from": max(lease.start, start).isoformat(),
            "to": min(lease.end or end, end).isoformat(),
        }
        for lease, code in rows
    ]
    return unit_list, leases


def _increasing(points: Sequence[tuple[int, int]], local: LocalClock) -> list[list[str]]:
    rows: list[list[str]] = []
    previous = ""
    for ms, wh in compact(points):
        stamp = local(ms)
        if stamp > previous:
            rows.append([stamp, str(wh)])
            previous = stamp
    return rows


def _main_meter(points: list[tuple[int, int]], start: datetime, days: int) -> list[str]:
    """kWh per 15-minute slot of the period, cleaned like any counter."""
    origin = start.timestamp()
    readings = [Reading(int(ms / 1000 - origin), Fraction(wh)) for ms, wh in points]
    slots = days * 24 * 60 // SLOT_MINUTES
    cleaned = clean_counter(readings, MAIN_METER_LIMIT_KW, slots * SLOT_MINUTES * 60)
    # Readings stand at their own moments, so a slot's kWh may not be a finite
    # decimal: a nanowatt-hour is far below any cent.
    return [_kwh_text(Fraction(cleaned.slot_wh.get(k, 0)) / 1000) for k in range(slots)]


def _kwh_text(kwh: Fraction) -> str:
    exact = Decimal(kwh.numerator) / Decimal(kwh.denominator)
    return str(exact if kwh.denominator == 1 else exact.quantize(Decimal("1e-9")))


def _decimal_text(x: Fraction) -> str:
    return str(x) if x.denominator == 1 else str(Decimal(x.numerator) / Decimal(x.denominator))


def _snapshots(sessions: Sequence[MachineSession]) -> dict[str, list[tuple[int, int]]]:
    """The counter readings a node takes as a session starts and ends (`ct_wh` on
    its events), per device: with them the engine sees which part of a slot a
    session drew (step 3), instead of sharing the slot's energy by time."""
    points: dict[str, list[tuple[int, int]]] = {}
    for s in sessions:
        taken = [(s.start_ms, s.start_wh)]
        if s.end_ms is not None:
            taken.append((s.end_ms, s.end_wh))
        points.setdefault(s.device, []).extend((ms, wh) for ms, wh in taken if wh is not None)
    return points


def build_split_input(
    session: Session,
    reader: InfluxClient | None,
    site: Site,
    bill: ElectricityBill,
    manual: ManualReadings | None = None,
) -> SplitInput:
    start_day, end_day = bill.period_start, bill.period_end
    units, leases = _spaces(session, site, start_day, end_day)
    scenario: dict[str, Any] = {
        "period": {"start": start_day.isoformat(), "end": end_day.isoformat()},
        "bill": _bill_section(session, bill),
        "units": units,
        "leases": leases,
        "vacancy_policy": bill.vacancy_policy,
    }
    gas = session.scalar(
        select(GasBill).where(
            GasBill.site_id == site.id,
            GasBill.period_start == start_day,
            GasBill.period_end == end_day,
        )
    )
    if gas is not None:
        scenario["heating"] = {"cost": _dec(gas.cost), "alpha": _dec(gas.alpha)}
    result = SplitInput(scenario)
    if manual is not None and manual.metered_kwh is not None:
        scenario["metered_kwh"] = manual.metered_kwh
        if manual.demand_intervals_kw is not None:
            scenario["demand_intervals_kw"] = manual.demand_intervals_kw
        result.notes.append("metered kWh and demand typed in by hand, not read from InfluxDB")
        return result
    if reader is None:
        raise ValueError("no InfluxDB configured and no manual readings given")
    _add_series(session, reader, site, result, *period_bounds(site, start_day, end_day))
    if manual is not None and manual.demand_intervals_kw is not None:
        scenario["demand_intervals_kw"] = manual.demand_intervals_kw
        scenario.pop("main_meter_kwh", None)
    return result


def _add_series(
    session: Session,
    reader: InfluxClient,
    site: Site,
    result: SplitInput,
    start: datetime,
    end: datetime,
) -> None:
    local = LocalClock(ZoneInfo(site.timezone))
    scenario = result.scenario
    machines = session.execute(
        select(Machine, Device.name)
        .join(Device, Device.id == Machine.device_id)
        .where(Machine.site_id == site.id)
        .order_by(Machine.code)
    ).all()
    meters = session.scalars(
        select(Device.name).where(Device.site_id == site.id, Device.role == "meter")
    ).all()
    # One reading before the period gives the first slot its delta.
    lookback = timedelta(hours=1)
    devices = session.scalars(
        select(Device).where(
            Device.site_id == site.id,
            Device.name.in_([name for _, name in machines] + list(meters)),
        )
    ).all()
    counters = counter_cache.read(
        session,
        reader,
        site.name,
        devices,
        int((start - lookback).timestamp() * 1000),
        int((end + timedelta(minutes=SLOT_MINUTES)).timestamp() * 1000),
    )
    machine_of_device = {name: m.code for m, name in machines}
    found_sessions = read_sessions(reader, site.name, start, end)
    snapshots = _snapshots(found_sessions)
    scenario["machines"] = []
    for machine, device in machines:
        rows = _increasing(counters.get(device, []), local)
        marks = _increasing(sorted(snapshots.get(device, [])), local)
        result.series_points += len(rows) + len(marks)
        scenario["machines"].append(
            {
                "id": machine.code,
                "rated_kw": _decimal_text(Fraction(machine.rated_power_w, 1000)),
                "grace_minutes": machine.grace_minutes,
                **({"kind": machine.kind} if machine.kind else {}),
                "counter_wh": rows,
                **({"snapshots_wh": marks} if marks else {}),
            }
        )
    member_of_badge: Mapping[str, str] = dict(
        session.execute(
            select(Badge.hash, Member.code)
            .join(Member, Member.id == Badge.member_id)
            .where(Member.site_id == site.id)
        ).all()
    )
    end_ms = int(end.timestamp() * 1000)
    sessions = []
    unknown = 0
    for found in found_sessions:
        member = member_of_badge.get(found.badge)
        machine_code = machine_of_device.get(found.device)
        if machine_code is None:
            continue
        if member is None:
            unknown += 1
            continue
        stop = min(found.end_ms if found.end_ms is not None else end_ms, end_ms)
        if stop <= found.start_ms:
            continue
        sessions.append(
            {
                "member": member,
                "machine": machine_code,
                "start": local(found.start_ms),
                "end": local(stop),
            }
        )
    scenario["sessions"] = [s for s in sessions if s["end"] > s["start"]]
    if unknown:
        result.notes.append(f"{unknown} session(s) with a badge no member holds: machine overhead")
    if len(meters) == 1 and meters[0] in counters:
        period = scenario["period"]
        days = (date.fromisoformat(period["end"]) - date.fromisoformat(period["start"])).days + 1
        scenario["main_meter_kwh"] = _main_meter(counters[meters[0]], start, days)
    elif len(meters) > 1:
        result.notes.append(f"{len(meters)} meter devices: none taken as the main meter")
