"""allocate(scenario) -> Split: the nine steps in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import heating
from .alerts import Alert
from .attribution import Attributed, MachineStep, attribute, attribute_machine, mw_of
from .counters import clean_counter
from .demand import (
    MAX_SCALE,
    Sampler,
    Shares,
    coincident_peak,
    sample,
    scale_to_int,
    shapley_scaled,
)
from .energy import COMMON, ESTIMATE_LIMIT, add_keyed, energy_pool, estimate_share, keyed_pool
from .gaps import GapFill, fill_gaps
from .keys import VACANCY, area_key
from .pools import ExactPool, Line, money, qty
from .reconcile import BandCheck, band_checks, reconcile
from .scenario import Scenario, ScenarioError, Session, band_of_slots
from .statement import RoundedPool, Statement, round_pool, statements

BASE = "base"
MW_PER_KWH = 4 * 10**6  # a 15-minute slot's kWh x 4 is its mean kW; in milliwatts
Table = dict[str, dict[str, Fraction]]


@dataclass(frozen=True)
class Split:
    scenario: Scenario
    members: dict[str, Statement]
    vacancy: Statement
    pools: dict[str, RoundedPool]
    total_cents: int
    alerts: tuple[Alert, ...]
    demand: Shares | None
    gap_fills: tuple[GapFill, ...] = field(default=())
    checks: tuple[BandCheck, ...] = field(default=())

    @property
    def held(self) -> bool:
        return any(a.hold for a in self.alerts)


@dataclass(frozen=True)
class Kernels:
    """The engine's two hot loops: step 3 for one machine, and the sampled demand
    game. The fast ones by default; the tests and the benchmark pass the
    straightforward exact ones (bench/allocation_reference.py) and compare the cents."""

    attribute_machine: MachineStep = attribute_machine
    sample_shapley: Sampler = sample


FAST = Kernels()


@dataclass
class _Usage:
    measured: Table
    estimated: Table
    loads: dict[str, list[int]]  # player -> load per demand interval, in 1/load_scale kW
    load_scale: int
    main_by_band: dict[str, Fraction] | None
    alerts: list[Alert]
    fills: list[GapFill]


def _add(table: Table, source: Mapping[str, Mapping[str, Fraction]]) -> None:
    for member, row in source.items():
        target = table.setdefault(member, {})
        for band, kwh in row.items():
            target[band] = target.get(band, Fraction(0)) + kwh


def _usage(s: Scenario, kernels: Kernels) -> _Usage:
    """Steps 1-3 (when the scenario has counter series) plus the given kWh."""
    measured: Table = {}
    estimated: Table = {}
    alerts: list[Alert] = []
    fills: list[GapFill] = []
    loads: dict[str, list[int]] = {}
    main_by_band = None
    names = [b.name for b in s.bill.bands]
    slot_band = band_of_slots(s) if s.has_series or s.main_meter_kwh else []
    demand = s.bill.demand is not None and s.bill.demand.cost > 0
    if s.has_series:
        horizon = s.period.seconds
        cleaned = {m.id: clean_counter(m.counter, m.rated_kw, horizon, m.snapshots)
                   for m in s.machines}
        metered = [clean_counter(m.counter, m.rated_kw, horizon) for m in s.submeters]
        for name, c in [
            *cleaned.items(),
            *((f"sub-meter {m.unit}", c) for m, c in zip(s.submeters, metered, strict=True)),
        ]:
            for r in c.rejected:
                alerts.append(
                    Alert(
                        "counter",
                        f"{name}: jump of {qty(r.wh)} Wh over {r.end - r.start} s "
                        f"above 1.1 x rated power ({qty(r.limit_wh)} Wh) rejected",
                    )
                )
        by_machine: dict[str, list[Session]] = {}
        for session in s.sessions:
            by_machine.setdefault(session.machine, []).append(session)
        estimates, fills = fill_gaps(s.machines, cleaned, by_machine, horizon)
        derive = bool(s.main_meter_kwh is not None and s.demand_intervals_kw is None and demand)
        step = kernels.attribute_machine
        found = attribute(s, cleaned, metered, estimates, slot_band, with_load=derive, step=step)
        for table, source in ((measured, found.measured), (estimated, found.estimated)):
            _add(
                table,
                {m: {names[b]: wh / 1000 for b, wh in row.items()} for m, row in source.items()},
            )
        if derive:
            loads = _derived_loads(s, found)
    elif s.main_meter_kwh is not None and s.demand_intervals_kw is None and demand:
        loads = {BASE: [round(kwh * MW_PER_KWH) for kwh in s.main_meter_kwh]}
    if s.main_meter_kwh is not None:
        main_by_band = {n: Fraction(0) for n in names}
        for slot, kwh in enumerate(s.main_meter_kwh):
            main_by_band[names[slot_band[slot]]] += kwh
    _add(measured, s.metered_kwh)
    _add(estimated, s.estimated_kwh)
    scale = MAX_SCALE
    if s.demand_intervals_kw is not None:
        players = sorted({p for row in s.demand_intervals_kw for p in row})
        rows, scale = scale_to_int(
            [[row.get(p, Fraction(0)) for row in s.demand_intervals_kw] for p in players]
        )
        loads = dict(zip(players, rows, strict=True))
    return _Usage(measured, estimated, loads, scale, main_by_band, alerts, fills)


def _derived_loads(s: Scenario, found: Attributed) -> dict[str, list[int]]:
    """Demand loads in milliwatts per slot from the attributed energy; base is
    what the main meter saw beyond the members, never below zero."""
    assert s.main_meter_kwh is not None
    slots = s.period.slots
    own = {
        member: [(slot, mw_of(num, den)) for slot, (num, den) in per_slot.items()]
        for member, per_slot in found.load.items()
    }
    # int64 holds every product and sum below unless loads reach about 2^62 / (players x
    # a share's numerator): gigawatts, or centuries of sessions. Then Python ints.
    numerators = [share.numerator for shares, _ in found.overhead for share in shares.values()]
    loudest = max(
        (mw for _, profile in [*found.overhead, *((None, row) for row in own.values())]
         for _, mw in profile),
        default=0,
    )  # fmt: skip
    players = len(own) + sum(len(shares) for shares, _ in found.overhead) + 1
    kind = object if loudest * max(numerators, default=1) * players >= 1 << 62 else np.int64
    rows: dict[str, np.ndarray] = {}

    def row_of(member: str) -> np.ndarray:
        if member not in rows:
            rows[member] = np.zeros(slots, dtype=kind)
        return rows[member]

    for member, mws in own.items():
        row = row_of(member)
        for slot, mw in mws:
            row[slot] += mw
    for shares, profile in found.overhead:
        if not profile:
            continue
        at = np.fromiter((slot for slot, _ in profile), dtype=np.int64, count=len(profile))
        power = np.array([m for _, m in profile], dtype=kind)
        for member, share in shares.items():
            row_of(member)[at] += power * share.numerator // share.denominator
    attributed = sum(rows.values(), np.zeros(slots, dtype=kind)).tolist()
    loads = {member: row.tolist() for member, row in rows.items()}
    loads[BASE] = [
        max(round(kwh * MW_PER_KWH) - a, 0)
        for kwh, a in zip(s.main_meter_kwh, attributed, strict=True)
    ]
    return loads


def _demand_pool(s: Scenario, usage: _Usage, kernels: Kernels) -> tuple[ExactPool, Shares | None]:
    demand = s.bill.demand
    pool = ExactPool("demand", demand.cost if demand else Fraction(0))
    if demand is None or not demand.cost:
        return pool, None
    players = sorted(p for p, row in usage.loads.items() if any(row))
    rows = [usage.loads[p] for p in players]
    scale = usage.load_scale
    if demand.method == "coincident_peak":
        shares = coincident_peak([[Fraction(x, scale) for x in row] for row in rows])
    else:
        shares = shapley_scaled(
            rows, scale, demand.samples, demand.seed, sampler=kernels.sample_shapley
        )
    if not shares.peak:
        raise ScenarioError(
            f"bill.demand: a demand charge of {money(demand.cost)} but no load in any interval"
        )
    price = demand.cost / shares.peak
    for player, kw, row in zip(players, shares.kw, rows, strict=True):
        basis = "coincident peak" if demand.method == "coincident_peak" else "shapley"
        note = (
            f"demand charge: {qty(kw)} kW of the building peak {qty(shares.peak)} kW by "
            f"{shares.method} (own peak {qty(Fraction(max(row), scale))} kW) at {money(price)}/kW"
        )
        pool.add(
            player, Line("demand", "demand charge", basis, kw, "kW", price, None, price * kw, note)
        )
    return pool, shares


def allocate(scenario: Scenario, *, kernels: Kernels = FAST) -> Split:
    """Split the scenario's bills among members and the vacancy account, to the cent."""
    s = scenario
    usage = _usage(s, kernels)
    alerts = list(usage.alerts)
    rec = reconcile(s.bill.bands, usage.measured, usage.estimated, s.tolerance, usage.main_by_band)
    alerts += rec.alerts
    fixed_key = area_key(s)
    reason = ""
    if fixed_key.redistributed:
        reason = " (vacant units spread over the occupied ones)"
    share = estimate_share(s.bill.bands, rec)
    if share > ESTIMATE_LIMIT:
        alerts.append(
            Alert(
                "estimates",
                f"estimates are {float(share * 100):.1f}% of the energy pool, "
                "above 25%: the energy pool goes by the fixed key",
            )
        )
        energy = keyed_pool(
            "energy",
            "energy (by fixed key: too many estimates)",
            sum((b.cost for b in s.bill.bands), Fraction(0)),
            fixed_key,
            reason,
        )
    else:
        energy = energy_pool(s.bill.bands, rec)
    demand, shares = _demand_pool(s, usage, kernels)
    leftovers: dict[str, int] = {}  # step 9's third tie rule, across the pools
    rounded = [round_pool(energy, leftovers), round_pool(demand, leftovers)]
    common = ExactPool("common", Fraction(0))
    for amount, item in (
        (Fraction(rounded[0].cents.get(COMMON, 0), 100), "unattributed energy"),
        (Fraction(rounded[1].cents.get(BASE, 0), 100), "base load's demand share"),
        (s.bill.fixed, "fixed charge"),
    ):
        common.total += amount
        add_keyed(common, item, amount, fixed_key, reason)
    rounded.append(round_pool(common, leftovers))
    if s.heating is not None:
        rounded.append(round_pool(_heating_pool(s), leftovers))
    # The remainder and base entries were carried into the common pool above.
    final = [
        RoundedPool(
            p.name,
            p.total_cents,
            {e: c for e, c in p.cents.items() if e not in (COMMON, BASE)},
            p.exact,
            {e: ln for e, ln in p.lines.items() if e not in (COMMON, BASE)},
        )
        for p in rounded
    ]
    known = {lease.member for lease in s.leases} | set(s.metered_kwh) | set(s.estimated_kwh)
    known |= {session.member for session in s.sessions}
    known |= {p for row in s.demand_intervals_kw or () for p in row} - {BASE}
    members = sorted(({e for p in final for e in p.cents} | known) - {VACANCY})
    result = statements(final, [*members, VACANCY])
    total = sum(st.total_cents for st in result.values())
    expected = (s.bill.total + (s.heating.cost if s.heating else 0)) * 100
    if total != expected:  # the construction guarantees this; a failure is a bug
        raise AssertionError(f"split sums to {total} cents, bill is {expected}")
    vacancy = result.pop(VACANCY)
    return Split(
        s,
        result,
        vacancy,
        {p.name: p for p in rounded},
        total,
        tuple(alerts),
        shares,
        tuple(usage.fills),
        band_checks(s.bill.bands, rec, usage.main_by_band),
    )


def _heating_pool(s: Scenario) -> ExactPool:
    assert s.heating is not None
    cost, alpha = s.heating.cost, s.heating.alpha
    by_meter = heating.meter_part(s)
    pool = ExactPool("heating", cost)
    by_area = cost if by_meter is None else (1 - alpha) * cost
    add_keyed(pool, "heating by area x degree-days", by_area, heating.area_part(s))
    if by_meter is not None:
        add_keyed(pool, "heating by measured heat", cost - by_area, by_meter)
    return pool
