"""A scenario (one bill period) as typed, frozen objects: what the engine computes on.

parse.py builds them from JSON and checks everything the engine trusts, so the
steps never see a negative cost, an unknown band or two tenants in one unit on
the same day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import NamedTuple

SLOT_SECONDS = 900
SLOTS_PER_DAY = 86400 // SLOT_SECONDS


class ScenarioError(ValueError):
    """Bad input; the message names the field and the problem."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def seconds(self) -> int:
        return self.days * 86400

    @property
    def slots(self) -> int:
        return self.days * SLOTS_PER_DAY

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class BandHours:
    """When a band applies: minutes of the day [start, end) on ISO weekdays."""

    start_min: int
    end_min: int
    weekdays: frozenset[int]

    def covers(self, weekday: int, minute: int) -> bool:
        return weekday in self.weekdays and self.start_min <= minute < self.end_min


@dataclass(frozen=True)
class Band:
    name: str
    kwh: Fraction
    cost: Fraction
    hours: BandHours | None  # None: applies whenever no earlier band does

    @property
    def price(self) -> Fraction:
        return self.cost / self.kwh if self.kwh else Fraction(0)


@dataclass(frozen=True)
class Demand:
    cost: Fraction
    method: str
    samples: int
    seed: int


@dataclass(frozen=True)
class Bill:
    bands: tuple[Band, ...]
    demand: Demand | None
    fixed: Fraction

    @property
    def total(self) -> Fraction:
        demand = self.demand.cost if self.demand else Fraction(0)
        return sum((b.cost for b in self.bands), Fraction(0)) + demand + self.fixed


@dataclass(frozen=True)
class Unit:
    id: str
    area: Fraction
    weight: Fraction
    heated: bool


@dataclass(frozen=True)
class Lease:
    member: str
    unit: str
    start: date
    end: date  # inclusive


class Reading(NamedTuple):  # a tuple: a year has 35,000 readings per machine
    at: int  # seconds since the period start (may be negative or past the end)
    wh: int | Fraction


@dataclass(frozen=True)
class Machine:
    id: str
    rated_kw: Fraction
    grace_s: int
    kind: str | None
    history_wh_per_session_hour: Fraction | None
    counter: tuple[Reading, ...]
    # The counter as read when sessions started and ended (the node's snapshots
    # on its session events): where in a slot its energy lies, not how much.
    snapshots: tuple[Reading, ...] = ()


@dataclass(frozen=True)
class Session:
    member: str
    machine: str
    start: int  # seconds since the period start, clipped to the period
    end: int


@dataclass(frozen=True)
class SubMeter:
    unit: str
    rated_kw: Fraction
    counter: tuple[Reading, ...]


@dataclass(frozen=True)
class Heating:
    cost: Fraction
    alpha: Fraction
    heat_meters_kwh: Mapping[str, Fraction] | None  # by unit id


@dataclass(frozen=True)
class Scenario:
    period: Period
    bill: Bill
    units: tuple[Unit, ...]
    leases: tuple[Lease, ...]
    metered_kwh: Mapping[str, Mapping[str, Fraction]]
    estimated_kwh: Mapping[str, Mapping[str, Fraction]]
    demand_intervals_kw: tuple[Mapping[str, Fraction], ...] | None
    vacancy_policy: str
    tolerance: Fraction
    machines: tuple[Machine, ...]
    sessions: tuple[Session, ...]
    submeters: tuple[SubMeter, ...]
    main_meter_kwh: tuple[Fraction, ...] | None
    heating: Heating | None

    @property
    def has_series(self) -> bool:
        return bool(self.machines or self.submeters)


def band_of_slots(scenario: Scenario) -> list[int]:
    """Index into bill.bands for every 15-minute slot of the period."""
    bands = scenario.bill.bands
    per_day: dict[int, list[int]] = {}
    result: list[int] = []
    for d in range(scenario.period.days):
        weekday = (scenario.period.start + timedelta(days=d)).isoweekday()
        if weekday not in per_day:
            per_day[weekday] = [
                next(
                    i
                    for i, b in enumerate(bands)
                    if b.hours is None or b.hours.covers(weekday, slot * SLOT_SECONDS // 60)
                    # A lone band prices everything, whatever its hours say.
                )
                if len(bands) > 1
                else 0
                for slot in range(SLOTS_PER_DAY)
            ]
        result.extend(per_day[weekday])
    return result
