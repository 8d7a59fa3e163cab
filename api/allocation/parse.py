"""Parse and validate a scenario mapping (parsed JSON) into the model of scenario.py.

Every problem raises ScenarioError with the field's path and what is wrong
(`leases[3]: unit U2 leased twice over 2026-01-10..2026-01-12`)."""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from .scenario import (
    SLOT_SECONDS,
    Band,
    BandHours,
    Bill,
    Demand,
    Heating,
    Lease,
    Machine,
    Period,
    Reading,
    Scenario,
    ScenarioError,
    Session,
    SubMeter,
    Unit,
)

DEFAULT_SAMPLES = 200  # orderings when Shapley is sampled; see docs/allocation.md
DEMAND_METHODS = ("shapley", "coincident_peak")
VACANCY_POLICIES = ("owner", "redistribute")
# Entry names that the pools use for non-members; a member may not take them.
RESERVED_IDS = frozenset({"base", "vacancy", "common"})
_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
# Bounds far beyond any bill: a billion kWh, kW, m² or units of money, and a thousand
# times that for counters in Wh (numbers past them only make the arithmetic slow or
# overflow the demand game's packed integers).
MAX_AMOUNT = 10**9
MAX_COUNTER_WH = 10**12
MAX_AMOUNT_CHARS = 40
_ID = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,64}$")
_BAND_KEYS = {"name", "kwh", "cost", "hours"}
_MACHINE_KEYS = {
    "id", "rated_kw", "grace_minutes", "kind", "history_kwh_per_session_hour", "counter_wh",
    "snapshots_wh",
}  # fmt: skip
_SESSION_KEYS = {"member", "machine", "start", "end"}
_SUBMETER_KEYS = {"unit", "rated_kw", "counter_wh"}


# --- field readers ---------------------------------------------------------

# What a message shows of a bad value: short, whatever was sent (a huge or deep value).
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 40
_show = _SHORT.repr


def _fail(path: str, problem: str) -> ScenarioError:
    return ScenarioError(f"{path}: {problem}")


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(path, f"expected a list, got {type(value).__name__}")
    return value


def _req(obj: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise _fail(path, f"missing field '{key}'")
    return obj[key]


def _check_keys(obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _fail(path, f"unknown field {_show(unknown[0])}")


def _objects(raw: Any, name: str, allowed: set[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each entry of a list of objects, with its path (`units[2]`), its fields checked."""
    for i, item in enumerate(_list(raw, name)):
        path = f"{name}[{i}]"
        obj = _obj(item, path)
        _check_keys(obj, allowed, path)
        yield path, obj


def _number(
    value: Any, path: str, *, negative_ok: bool = False, limit: int = MAX_AMOUNT
) -> Fraction:
    # Floats are refused: 0.1 in JSON is already inexact once parsed.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(path, f"expected a decimal string, got {_show(value)}")
    if isinstance(value, int) and abs(value) > limit:
        raise _fail(path, f"amount {_show(value)} beyond any bill (at most {limit})")
    text = str(value).strip()
    if len(text) > MAX_AMOUNT_CHARS:  # before int(): thousands of digits cost, or raise
        raise _fail(path, f"amount of {len(text)} characters, at most {MAX_AMOUNT_CHARS}")
    if not _DECIMAL.match(text):
        raise _fail(path, f"malformed amount {_show(value)}")
    number = Fraction(int(text)) if text.isdigit() else Fraction(text)  # the fast common case
    if number < 0 and not negative_ok:
        raise _fail(path, f"negative amount {text}")
    if abs(number) > limit:
        raise _fail(path, f"amount {text} beyond any bill (at most {limit})")
    return number


def _money(value: Any, path: str) -> Fraction:
    number = _number(value, path)
    if (number * 100).denominator != 1:
        raise _fail(path, f"more than 2 decimals in {_show(value)}")
    return number


def _ident(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise _fail(path, f"malformed id {_show(value)}")
    return value


def _known(obj: Mapping[str, Any], key: str, path: str, known: set[str]) -> str:
    """An id field naming an entry given elsewhere in the scenario (a machine, a unit)."""
    value = _ident(_req(obj, key, path), f"{path}.{key}")
    if value not in known:
        raise _fail(f"{path}.{key}", f"unknown {key} {value}")
    return value


def _member(value: Any, path: str) -> str:
    member = _ident(value, path)
    if member in RESERVED_IDS:
        raise _fail(path, f"member id '{member}' is reserved")
    return member


def _date(value: Any, path: str) -> date:
    try:
        if not isinstance(value, str):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(path, f"malformed date {_show(value)} (expected YYYY-MM-DD)") from None


def _time_of_day(value: Any, path: str) -> int:
    match = re.match(r"^(\d\d):(\d\d)$", value) if isinstance(value, str) else None
    if not match or int(match[1]) > 24 or int(match[2]) > 59:
        raise _fail(path, f"malformed time {_show(value)} (expected HH:MM)")
    minute = int(match[1]) * 60 + int(match[2])
    if minute > 1440:
        raise _fail(path, f"time {_show(value)} past 24:00")
    return minute


def _timestamp(value: Any, path: str, origin: datetime) -> int:
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(path, f"malformed timestamp {_show(value)}") from None
    if moment.tzinfo is not None:
        raise _fail(path, f"timestamp {_show(value)} has a zone; use the site's local time")
    delta = moment - origin
    seconds = delta.days * 86400 + delta.seconds
    # Truncated toward zero like int(delta.total_seconds()), without the float.
    return seconds + 1 if seconds < 0 and delta.microseconds else seconds


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(path, f"expected an integer in {low}..{high}, got {_show(value)}")
    return value


# --- sections ----------------------------------------------------------------


def _period(data: Mapping[str, Any]) -> Period:
    raw = _obj(_req(data, "period", "scenario"), "period")
    _check_keys(raw, {"start", "end"}, "period")
    period = Period(
        _date(_req(raw, "start", "period"), "period.start"),
        _date(_req(raw, "end", "period"), "period.end"),
    )
    if period.end < period.start:
        raise _fail("period", f"end {period.end} before start {period.start}")
    if period.days > 366:
        raise _fail("period", f"{period.days} days; a bill period is at most a year")
    return period


def _hours(raw: Any, path: str) -> BandHours:
    obj = _obj(raw, path)
    _check_keys(obj, {"from", "to", "weekdays"}, path)
    start = _time_of_day(_req(obj, "from", path), f"{path}.from")
    end = _time_of_day(_req(obj, "to", path), f"{path}.to")
    if end <= start:
        raise _fail(path, "'to' must be after 'from' (split a band that crosses midnight)")
    days = _list(obj.get("weekdays", [1, 2, 3, 4, 5, 6, 7]), f"{path}.weekdays")
    weekdays = frozenset(_int(d, f"{path}.weekdays", 1, 7) for d in days)
    return BandHours(start, end, weekdays)


def _bill(data: Mapping[str, Any]) -> Bill:
    raw = _obj(_req(data, "bill", "scenario"), "bill")
    _check_keys(raw, {"bands", "demand", "fixed"}, "bill")
    bands: list[Band] = []
    for path, obj in _objects(_req(raw, "bands", "bill"), "bill.bands", _BAND_KEYS):
        name = _ident(_req(obj, "name", path), f"{path}.name")
        if any(b.name == name for b in bands):
            raise _fail(f"{path}.name", f"band '{name}' given twice")
        kwh = _number(_req(obj, "kwh", path), f"{path}.kwh")
        cost = _money(_req(obj, "cost", path), f"{path}.cost")
        if kwh == 0 and cost > 0:
            raise _fail(path, f"cost {obj['cost']} for zero kWh")
        hours = _hours(obj["hours"], f"{path}.hours") if "hours" in obj else None
        bands.append(Band(name, kwh, cost, hours))
    if not bands:
        raise _fail("bill.bands", "no tariff band")
    if sum(b.kwh for b in bands) == 0:
        raise _fail("bill.bands", "bill of zero kWh")
    demand = None
    if raw.get("demand") is not None:
        obj = _obj(raw["demand"], "bill.demand")
        _check_keys(obj, {"cost", "method", "samples", "seed"}, "bill.demand")
        method = obj.get("method", "shapley")
        if method not in DEMAND_METHODS:
            raise _fail("bill.demand.method", f"unknown method {_show(method)}")
        demand = Demand(
            _money(_req(obj, "cost", "bill.demand"), "bill.demand.cost"),
            method,
            _int(obj.get("samples", DEFAULT_SAMPLES), "bill.demand.samples", 1, 1_000_000),
            _int(obj.get("seed", 0), "bill.demand.seed", 0, 2**63),
        )
    fixed = _money(raw.get("fixed", "0"), "bill.fixed")
    return Bill(tuple(bands), demand, fixed)


def _units(data: Mapping[str, Any]) -> tuple[Unit, ...]:
    units: list[Unit] = []
    for path, obj in _objects(
        data.get("units", []), "units", {"id", "area_m2", "weight", "heated"}
    ):
        uid = _ident(_req(obj, "id", path), f"{path}.id")
        if any(u.id == uid for u in units):
            raise _fail(f"{path}.id", f"unit {uid} given twice")
        heated = obj.get("heated", True)
        if not isinstance(heated, bool):
            raise _fail(f"{path}.heated", f"expected true or false, got {_show(heated)}")
        units.append(
            Unit(
                uid,
                _number(_req(obj, "area_m2", path), f"{path}.area_m2"),
                _number(obj.get("weight", "1"), f"{path}.weight"),
                heated,
            )
        )
    return tuple(units)


def _leases(data: Mapping[str, Any], period: Period, units: tuple[Unit, ...]) -> tuple[Lease, ...]:
    unit_ids = {u.id for u in units}
    leases: list[Lease] = []
    for path, obj in _objects(data.get("leases", []), "leases", {"member", "unit", "from", "to"}):
        lease = Lease(
            _member(_req(obj, "member", path), f"{path}.member"),
            _ident(_req(obj, "unit", path), f"{path}.unit"),
            _date(_req(obj, "from", path), f"{path}.from"),
            _date(_req(obj, "to", path), f"{path}.to"),
        )
        if lease.unit not in unit_ids:
            raise _fail(f"{path}.unit", f"unknown unit {lease.unit}")
        span = f"{lease.start}..{lease.end}"
        if lease.end < lease.start:
            raise _fail(path, f"lease ends before it starts ({span})")
        if lease.start < period.start or lease.end > period.end:
            raise _fail(path, f"lease {span} outside the period {period}")
        for other in leases:
            if other.unit == lease.unit and other.start <= lease.end and lease.start <= other.end:
                first, last = max(other.start, lease.start), min(other.end, lease.end)
                raise _fail(path, f"unit {lease.unit} leased twice over {first}..{last}")
        leases.append(lease)
    return tuple(leases)


def _band_table(raw: Any, path: str, bands: set[str]) -> Mapping[str, Mapping[str, Fraction]]:
    table: dict[str, Mapping[str, Fraction]] = {}
    for member, per_band in _obj(raw, path).items():
        mpath = f"{path}.{_member(member, path)}"
        row: dict[str, Fraction] = {}
        for band, kwh in _obj(per_band, mpath).items():
            if band not in bands:
                raise _fail(mpath, f"unknown band {_show(band)} in {mpath}")
            row[band] = _number(kwh, f"{mpath}.{band}")
        table[member] = MappingProxyType(row)
    return MappingProxyType(table)


def _intervals(raw: Any) -> tuple[Mapping[str, Fraction], ...]:
    intervals: list[Mapping[str, Fraction]] = []
    for t, item in enumerate(_list(raw, "demand_intervals_kw")):
        path = f"demand_intervals_kw[{t}]"
        row: dict[str, Fraction] = {}
        for player, kw in _obj(item, path).items():
            if player != "base":
                _member(player, path)
            row[player] = _number(kw, f"{path}.{player}")
        intervals.append(MappingProxyType(row))
    return tuple(intervals)


def _counter(raw: Any, path: str, origin: datetime) -> tuple[Reading, ...]:
    readings: list[Reading] = []
    previous = None
    for k, item in enumerate(_list(raw, path)):
        if type(item) is not list or len(item) != 2:
            pair = _list(item, f"{path}[{k}]")
            if len(pair) != 2:
                raise _fail(f"{path}[{k}]", "expected [timestamp, wh]")
        stamp, wh = item
        try:  # the common case inline; _timestamp names the problem otherwise
            moment = datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            moment = None
        if moment is None or moment.tzinfo is not None or moment.microsecond:
            at = _timestamp(stamp, f"{path}[{k}][0]", origin)
        else:
            delta = moment - origin
            at = delta.days * 86400 + delta.seconds
        if previous is not None and at < previous:
            raise _fail(f"{path}[{k}]", "time goes backwards")
        previous = at
        # Whole Wh, as the api sends them, skip the Fraction (the common case).
        if type(wh) is int and 0 <= wh <= MAX_COUNTER_WH:
            value: int | Fraction = wh
        elif type(wh) is str and len(wh) <= 13 and wh.isascii() and wh.isdigit():
            value = int(wh)  # at most 13 digits: under 10**13, checked below
            if value > MAX_COUNTER_WH:
                raise _fail(f"{path}[{k}][1]", f"counter {wh} Wh beyond any meter")
        else:
            value = _number(wh, f"{path}[{k}][1]", limit=MAX_COUNTER_WH)
        readings.append(Reading(at, value))
    return tuple(readings)


def _machines(data: Mapping[str, Any], origin: datetime) -> tuple[Machine, ...]:
    machines: list[Machine] = []
    for path, obj in _objects(data.get("machines", []), "machines", _MACHINE_KEYS):
        mid = _ident(_req(obj, "id", path), f"{path}.id")
        if any(m.id == mid for m in machines):
            raise _fail(f"{path}.id", f"machine {mid} given twice")
        history = obj.get("history_kwh_per_session_hour")
        machines.append(
            Machine(
                mid,
                _number(_req(obj, "rated_kw", path), f"{path}.rated_kw"),
                60 * _int(obj.get("grace_minutes", 0), f"{path}.grace_minutes", 0, 1440),
                _ident(obj["kind"], f"{path}.kind") if "kind" in obj else None,
                None if history is None else 1000 * _number(history, f"{path}.history"),
                _counter(obj.get("counter_wh", []), f"{path}.counter_wh", origin),
                _counter(obj.get("snapshots_wh", []), f"{path}.snapshots_wh", origin),
            )
        )
    return tuple(machines)


def _sessions(
    data: Mapping[str, Any], origin: datetime, period: Period, machines: tuple[Machine, ...]
) -> tuple[Session, ...]:
    known = {m.id for m in machines}
    sessions: list[Session] = []
    for path, obj in _objects(data.get("sessions", []), "sessions", _SESSION_KEYS):
        machine = _known(obj, "machine", path, known)
        start = _timestamp(_req(obj, "start", path), f"{path}.start", origin)
        end = _timestamp(_req(obj, "end", path), f"{path}.end", origin)
        if end <= start:
            raise _fail(path, "session ends before it starts")
        start, end = max(start, 0), min(end, period.seconds)
        if end > start:  # sessions wholly outside the period do not count
            member = _member(_req(obj, "member", path), f"{path}.member")
            sessions.append(Session(member, machine, start, end))
    return tuple(sessions)


def _submeters(
    data: Mapping[str, Any], origin: datetime, units: tuple[Unit, ...]
) -> tuple[SubMeter, ...]:
    unit_ids = {u.id for u in units}
    meters: list[SubMeter] = []
    for path, obj in _objects(data.get("submeters", []), "submeters", _SUBMETER_KEYS):
        unit = _known(obj, "unit", path, unit_ids)
        meters.append(
            SubMeter(
                unit,
                _number(_req(obj, "rated_kw", path), f"{path}.rated_kw"),
                _counter(obj.get("counter_wh", []), f"{path}.counter_wh", origin),
            )
        )
    return tuple(meters)


def _heating(data: Mapping[str, Any], units: tuple[Unit, ...]) -> Heating | None:
    if data.get("heating") is None:
        return None
    obj = _obj(data["heating"], "heating")
    _check_keys(obj, {"cost", "alpha", "heat_meters_kwh"}, "heating")
    cost = _money(_req(obj, "cost", "heating"), "heating.cost")
    alpha = _number(obj.get("alpha", "0.5"), "heating.alpha")
    meters = None
    if obj.get("heat_meters_kwh") is not None:
        # HeizkostenV allows a consumption share of 50 to 70 percent only.
        if not Fraction(1, 2) <= alpha <= Fraction(7, 10):
            raise _fail("heating.alpha", f"{obj.get('alpha')} outside 0.5..0.7")
        raw = _obj(obj["heat_meters_kwh"], "heating.heat_meters_kwh")
        known = {u.id for u in units if u.heated}
        for uid in raw:
            if uid not in known:
                raise _fail("heating.heat_meters_kwh", f"unknown heated unit {_show(uid)}")
        missing = sorted(known - set(raw))
        if missing:
            raise _fail("heating.heat_meters_kwh", f"no reading for heated unit {missing[0]}")
        meters = MappingProxyType(
            {uid: _number(v, f"heating.heat_meters_kwh.{uid}") for uid, v in raw.items()}
        )
    if not any(u.heated and u.area > 0 for u in units) and cost > 0:
        raise _fail("heating", "gas bill but no heated area")
    return Heating(cost, alpha, meters)


_TOP_LEVEL = {
    "period", "bill", "units", "leases", "metered_kwh", "estimated_kwh",
    "demand_intervals_kw", "vacancy_policy", "tolerance", "machines", "sessions",
    "submeters", "main_meter_kwh", "heating",
}  # fmt: skip


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    """Validate a scenario mapping (parsed JSON); raise ScenarioError naming the problem."""
    data = _obj(data, "scenario")
    _check_keys(data, _TOP_LEVEL, "scenario")
    period = _period(data)
    origin = datetime.combine(period.start, datetime.min.time())
    bill = _bill(data)
    band_names = {b.name for b in bill.bands}
    units = _units(data)
    leases = _leases(data, period, units)
    policy = data.get("vacancy_policy", "owner")
    if policy not in VACANCY_POLICIES:
        raise _fail("vacancy_policy", f"unknown policy {_show(policy)}")
    intervals = None
    if data.get("demand_intervals_kw") is not None:
        intervals = _intervals(data["demand_intervals_kw"])
    main = None
    if data.get("main_meter_kwh") is not None:
        raw = _list(data["main_meter_kwh"], "main_meter_kwh")
        if len(raw) != period.slots:
            raise _fail("main_meter_kwh", f"{len(raw)} values for {period.slots} slots")
        main = tuple(_number(v, f"main_meter_kwh[{k}]") for k, v in enumerate(raw))
    machines = _machines(data, origin)
    scenario = Scenario(
        period=period,
        bill=bill,
        units=units,
        leases=leases,
        metered_kwh=_band_table(data.get("metered_kwh", {}), "metered_kwh", band_names),
        estimated_kwh=_band_table(data.get("estimated_kwh", {}), "estimated_kwh", band_names),
        demand_intervals_kw=intervals,
        vacancy_policy=policy,
        tolerance=_number(data.get("tolerance", "0.02"), "tolerance"),
        machines=machines,
        sessions=_sessions(data, origin, period, machines),
        submeters=_submeters(data, origin, units),
        main_meter_kwh=main,
        heating=_heating(data, units),
    )
    _check_consistency(scenario)
    return scenario


def _check_consistency(s: Scenario) -> None:
    demand = s.bill.demand
    if demand and demand.cost > 0 and s.demand_intervals_kw is None and s.main_meter_kwh is None:
        raise _fail("bill.demand", "a demand charge needs demand_intervals_kw or main_meter_kwh")
    if not any(u.area * u.weight > 0 for u in s.units):
        raise _fail("units", "no unit with area: the fixed charge and common pool need a key")
    if s.has_series:
        catch_all = [b for b in s.bill.bands if b.hours is None]
        if len(s.bill.bands) > 1 and not catch_all:
            # A gap in the schedule would leave metered energy without a price.
            full_week = all(_covers_week(s.bill.bands, d) for d in range(1, 8))
            if not full_week:
                raise _fail(
                    "bill.bands", "the band hours leave time uncovered; add a band without hours"
                )


def _covers_week(bands: tuple[Band, ...], weekday: int) -> bool:
    return all(
        any(b.hours is not None and b.hours.covers(weekday, m) for b in bands)
        for m in range(0, 1440, SLOT_SECONDS // 60)
    )
