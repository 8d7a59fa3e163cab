"""Step 7: the fixed key, weight x area x days leased, and the vacancy policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import lru_cache
from itertools import accumulate

from .scenario import Scenario, Unit

VACANCY = "vacancy"

DayWeight = Callable[[date], Fraction]


def _one(_: date) -> Fraction:
    return Fraction(1)


@dataclass(frozen=True)
class Key:
    """Weights per entry (members, and 'vacancy' under the owner policy)."""

    weights: dict[str, Fraction]
    quantities: dict[str, Fraction]  # the members' (and vacancy's) own weight, for statements
    unit_name: str  # what a weight counts, e.g. "m2·days"
    total: Fraction  # weight of the whole building, occupied or not
    redistributed: bool  # vacancy spread over the occupied units


@lru_cache(maxsize=8)
def _running_days(start: date, days: int, day_weight: DayWeight) -> tuple[Fraction, ...]:
    """Weighted days from the period start to the start of each day (and the end)."""
    weights = (day_weight(start + timedelta(days=d)) for d in range(days))
    return (Fraction(0), *accumulate(weights))


def unit_days(
    scenario: Scenario, unit: Unit, day_weight: DayWeight = _one
) -> tuple[dict[str, Fraction], Fraction]:
    """(weighted days per tenant, weighted vacant days) of one unit."""
    period = scenario.period
    running = _running_days(period.start, period.days, day_weight)
    tenants: dict[str, Fraction] = {}
    leased = Fraction(0)
    for lease in scenario.leases:
        if lease.unit != unit.id:
            continue
        first, last = (lease.start - period.start).days, (lease.end - period.start).days
        span = running[last + 1] - running[first]
        tenants[lease.member] = tenants.get(lease.member, Fraction(0)) + span
        leased += span
    return tenants, running[-1] - leased


def area_key(
    scenario: Scenario,
    *,
    day_weight: DayWeight = _one,
    use_weight: bool = True,
    units: tuple[Unit, ...] | None = None,
    unit_name: str = "m2·days",
) -> Key:
    """Key by (weight x) area x (weighted) days, with the scenario's vacancy policy."""
    quantities: dict[str, Fraction] = {}
    vacant = Fraction(0)
    for unit in scenario.units if units is None else units:
        factor = unit.area * (unit.weight if use_weight else 1)
        tenants, idle = unit_days(scenario, unit, day_weight)
        for member, days in tenants.items():
            quantities[member] = quantities.get(member, Fraction(0)) + factor * days
        vacant += factor * idle
    return make_key(scenario, quantities, vacant, unit_name)


def make_key(
    scenario: Scenario, quantities: dict[str, Fraction], vacant: Fraction, unit_name: str
) -> Key:
    """Apply the vacancy policy; with nobody to redistribute to, the owner keeps it."""
    total = sum(quantities.values(), Fraction(0)) + vacant
    redistribute = scenario.vacancy_policy == "redistribute" and any(quantities.values())
    weights = dict(quantities)
    if not redistribute:
        weights[VACANCY] = vacant
    return Key(weights, {**quantities, VACANCY: vacant}, unit_name, total, redistribute)
