"""Step 8: the gas bill by degree-day-weighted area-days and measured heat."""

from __future__ import annotations

import calendar
from datetime import date
from fractions import Fraction

from .keys import Key, area_key, make_key, unit_days
from .scenario import Scenario

# Per mille of a year's heating degree days by month; June to August share 40.
DEGREE_DAYS_PERMILLE = {
    1: 170, 2: 150, 3: 130, 4: 80, 5: 40, 9: 30, 10: 80, 11: 120, 12: 160,
}  # fmt: skip
SUMMER = (6, 7, 8)
SUMMER_PERMILLE = 40


def day_weight(day: date) -> Fraction:
    """A day's share of the year's degree days, so a winter day weighs more."""
    if day.month in SUMMER:
        summer_days = sum(calendar.monthrange(day.year, m)[1] for m in SUMMER)
        return Fraction(SUMMER_PERMILLE, summer_days)
    return Fraction(DEGREE_DAYS_PERMILLE[day.month], calendar.monthrange(day.year, day.month)[1])


def area_part(scenario: Scenario) -> Key:
    """Heated area x degree-day-weighted days; no usage weight: heat does not care."""
    heated = tuple(u for u in scenario.units if u.heated)
    return area_key(
        scenario, day_weight=day_weight, use_weight=False, units=heated, unit_name="m2·degree-days"
    )


def meter_part(scenario: Scenario) -> Key | None:
    """Measured heat per unit, to its tenants by weighted days; None without meters."""
    heating = scenario.heating
    if heating is None or heating.heat_meters_kwh is None:
        return None
    if not any(heating.heat_meters_kwh.values()):
        return None  # nothing measured: the whole bill goes by area
    quantities: dict[str, Fraction] = {}
    vacant = Fraction(0)
    for unit in scenario.units:
        kwh = heating.heat_meters_kwh.get(unit.id)
        if not kwh:
            continue
        tenants, idle = unit_days(scenario, unit, day_weight)
        span = sum(tenants.values(), Fraction(0)) + idle
        for member, days in tenants.items():
            quantities[member] = quantities.get(member, Fraction(0)) + kwh * days / span
        vacant += kwh * idle / span
    return make_key(scenario, quantities, vacant, "kWh heat")
