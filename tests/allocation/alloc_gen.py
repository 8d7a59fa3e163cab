"""Hypothesis strategies for scenarios (plain dicts, as a treasurer's JSON would be)."""

from __future__ import annotations

import copy
import itertools
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

START = date(2026, 3, 1)
DAYS = 31


def cents(x: int) -> str:
    return f"{x // 100}.{x % 100:02d}"


def ts(day: int, minute: int) -> str:
    moment = datetime.combine(START, datetime.min.time()) + timedelta(days=day, minutes=minute)
    return moment.isoformat(timespec="minutes")


@st.composite
def counter_series(draw: st.DrawFn, rated_kw: int) -> list[list[str]]:
    """Readings within a week of the period with resets and an implausible jump."""
    times = sorted(draw(st.sets(st.integers(0, 7 * 96), min_size=2, max_size=10)))
    value = draw(st.integers(0, 10**6))
    readings = [[ts(0, times[0] * 15), str(value)]]
    for prev, now in itertools.pairwise(times):
        limit = rated_kw * 1000 * (now - prev) * 15 // 60  # plausible Wh for the time
        kind = draw(st.sampled_from(["normal", "normal", "normal", "reset", "jump"]))
        delta = draw(st.integers(0, limit))
        if kind == "reset" and value > delta:
            value = delta  # the counter restarted from zero and counted delta since
        elif kind == "jump":
            value += 2 * limit + 1000
        else:
            value += delta
        readings.append([ts(0, now * 15), str(value)])
    return readings


@st.composite
def scenarios(
    draw: st.DrawFn,
    min_members: int = 1,
    max_members: int = 30,
    series: bool = True,
) -> dict[str, Any]:
    n = draw(st.integers(min_members, max_members))
    members = [f"m{i:02d}" for i in range(n)]
    band_names = ["peak", "offpeak", "shoulder"][: draw(st.integers(1, 3))]
    bands = []
    for k, name in enumerate(band_names):
        band: dict[str, Any] = {
            "name": name,
            "kwh": str(draw(st.integers(1, 5000))),
            "cost": cents(draw(st.integers(0, 200_000))),
        }
        if k == 0 and len(band_names) > 1:
            band["hours"] = {"from": "07:00", "to": "20:00", "weekdays": [1, 2, 3, 4, 5]}
        bands.append(band)
    units = []
    leases = []
    for i, member in enumerate(members):
        if draw(st.integers(0, 5)) == 0:
            continue  # a member with no space (uses machines only)
        units.append(
            {
                "id": f"u{i:02d}",
                "area_m2": str(draw(st.integers(1, 300))),
                "weight": draw(st.sampled_from(["1", "1", "1.5", "0.5"])),
            }
        )
        first = draw(st.integers(0, DAYS - 1)) if draw(st.booleans()) else 0  # joiners
        last = draw(st.integers(first, DAYS - 1)) if draw(st.booleans()) else DAYS - 1
        leases.append(
            {
                "member": member,
                "unit": f"u{i:02d}",
                "from": (START + timedelta(days=first)).isoformat(),
                "to": (START + timedelta(days=last)).isoformat(),
            }
        )
    for v in range(draw(st.integers(0 if units else 1, 3))):
        units.append({"id": f"v{v}", "area_m2": str(draw(st.integers(1, 300)))})
    metered: dict[str, dict[str, str]] = {}
    for member in members:
        row = {b: str(draw(st.integers(0, 3000))) for b in band_names if draw(st.booleans())}
        if row:
            metered[member] = row
    intervals = []
    for _ in range(draw(st.integers(1, 6))):
        row = {m: str(draw(st.integers(0, 40))) for m in members if draw(st.integers(0, 2))}
        row["base"] = str(draw(st.integers(1, 30)))
        intervals.append(row)
    scenario: dict[str, Any] = {
        "period": {
            "start": START.isoformat(),
            "end": (START + timedelta(days=DAYS - 1)).isoformat(),
        },
        "bill": {
            "bands": bands,
            "demand": {
                "cost": cents(draw(st.integers(0, 100_000))),
                "method": draw(st.sampled_from(["shapley", "coincident_peak"])),
                "samples": 50,
            },
            "fixed": cents(draw(st.integers(0, 50_000))),
        },
        "units": units,
        "leases": leases,
        "metered_kwh": metered,
        "demand_intervals_kw": intervals,
        "vacancy_policy": draw(st.sampled_from(["owner", "redistribute"])),
    }
    if series and draw(st.booleans()):
        machines, sessions = [], []
        for k in range(draw(st.integers(1, 2))):
            rated = draw(st.integers(1, 10))
            machines.append(
                {
                    "id": f"M{k}",
                    "rated_kw": str(rated),
                    "kind": "cnc",
                    "grace_minutes": draw(st.integers(0, 30)),
                    "counter_wh": draw(counter_series(rated)),
                }
            )
            for _ in range(draw(st.integers(0, 4))):
                start = draw(st.integers(0, 7 * 96 * 15 - 30))
                sessions.append(
                    {
                        "member": draw(st.sampled_from(members)),
                        "machine": f"M{k}",
                        "start": ts(0, start),
                        "end": ts(0, start + draw(st.integers(1, 300))),
                    }
                )
        scenario["machines"], scenario["sessions"] = machines, sessions
    return scenario


def renamed(scenario: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The same scenario with member ids replaced."""
    out = copy.deepcopy(scenario)
    for lease in out["leases"]:
        lease["member"] = names[lease["member"]]
    for s in out.get("sessions", []):
        s["member"] = names[s["member"]]
    out["metered_kwh"] = {names[m]: row for m, row in out["metered_kwh"].items()}
    out["demand_intervals_kw"] = [
        {names.get(p, p): kw for p, kw in row.items()} for row in out["demand_intervals_kw"]
    ]
    return out

