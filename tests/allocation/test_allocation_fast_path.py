"""The fast paths (integer attribution sweep, numpy sampled Shapley) against the
straightforward exact ones (per-slot Fractions, packed big integers): same
input, same cents, so the speed-up cannot silently change money."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from alloc_gen import scenarios
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.allocation import allocate, parse_scenario, split_to_dict
from api.allocation.demand import EXACT_MAX_PLAYERS, shapley
from api.allocation.engine import Kernels
from bench.allocation_reference import REFERENCE, allocate_reference, shapley_reference

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = datetime(2026, 3, 2)  # a Monday
DAYS = 2


def stamp(minute: int, second: int = 0) -> str:
    return (START + timedelta(minutes=minute, seconds=second)).isoformat()


@st.composite
def busy_machines(draw: st.DrawFn) -> dict[str, Any]:
    """Two days of shared machines: readings at odd times (energy spread over
    several slots, decimal Wh), concurrent sessions, grace windows, and demand
    derived from a main meter, so every step of the fast path runs."""
    members = [f"m{i}" for i in range(draw(st.integers(1, 12)))]
    horizon = DAYS * 1440
    machines, sessions = [], []
    for k in range(draw(st.integers(1, 3))):
        rated = draw(st.integers(1, 10))
        minutes = sorted(draw(st.sets(st.integers(-60, horizon + 60), min_size=2, max_size=40)))
        value = Fraction(draw(st.integers(0, 10**5)))
        readings = []
        values = []
        for i, minute in enumerate(minutes):
            if i:
                limit = rated * (minute - minutes[i - 1]) * 1000 // 60
                value += Fraction(draw(st.integers(0, 4 * limit)), draw(st.sampled_from([1, 4])))
                if draw(st.integers(0, 12)) == 0:
                    value = Fraction(draw(st.integers(0, 50)))  # a reset
            second = draw(st.sampled_from([0, 0, 0, 7, 30]))
            values.append(value)
            readings.append(
                [stamp(minute, second), str(float(value)) if value.denominator > 1 else str(value)]
            )
        machine: dict[str, Any] = {
            "id": f"M{k}",
            "rated_kw": str(rated),
            "grace_minutes": draw(st.sampled_from([0, 0, 5, 15, 30])),
            "counter_wh": readings,
        }
        machines.append(machine)
        edges = []
        for _ in range(draw(st.integers(0, 15))):
            start = draw(st.integers(-30, horizon - 1))
            end = start + draw(st.integers(1, 300))
            edges += [start, end]
            sessions.append(
                {
                    "member": draw(st.sampled_from(members)),
                    "machine": f"M{k}",
                    "start": stamp(start),
                    "end": stamp(end),
                }
            )
        if edges and draw(st.booleans()):
            # The node's counter at its session starts and ends: near the
            # readings, now and then off (a counter that restarted, a late stamp).
            snapshots = []
            for t in sorted(edges):
                before = [v for m, v in zip(minutes, values, strict=True) if m <= t]
                held = int(before[-1] if before else values[0]) + draw(st.integers(-5, 50))
                snapshots.append([stamp(t), str(max(held, 0))])
            machine["snapshots_wh"] = snapshots
    end = (START + timedelta(days=DAYS - 1)).date().isoformat()
    main = [f"{draw(st.integers(1, 40)) / 4}" for _ in range(DAYS * 96)]
    return {
        "period": {"start": START.date().isoformat(), "end": end},
        "bill": {
            "bands": [
                {
                    "name": "peak",
                    "kwh": str(draw(st.integers(1, 2000))),
                    "cost": "123.45",
                    "hours": {"from": "07:00", "to": "20:00"},
                },
                {"name": "offpeak", "kwh": str(draw(st.integers(1, 2000))), "cost": "67.89"},
            ],
            "demand": {"cost": f"{draw(st.integers(1, 99999))}.00", "samples": 20},
            "fixed": "10.00",
        },
        "units": [{"id": f"u{i}", "area_m2": "10"} for i in range(len(members))],
        "leases": [
            {"member": m, "unit": f"u{i}", "from": START.date().isoformat(), "to": end}
            for i, m in enumerate(members)
        ],
        "machines": machines,
        "sessions": sessions,
        "main_meter_kwh": main,
    }


def both(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    scenario = parse_scenario(data)
    fast = split_to_dict(allocate(scenario))
    reference = split_to_dict(allocate_reference(scenario))
    return fast, reference


@SETTINGS
@given(busy_machines())
def test_fast_attribution_and_derived_demand_give_the_reference_split(
    data: dict[str, Any],
) -> None:
    fast, reference = both(data)
    assert fast == reference
    assert sum(Fraction(m["total"]) for m in fast["members"].values()) + Fraction(
        fast["vacancy"]
    ) == Fraction(fast["total"])


@SETTINGS
@given(scenarios())
def test_fast_path_gives_the_reference_split_on_generated_bills(data: dict[str, Any]) -> None:
    fast, reference = both(data)
    assert fast == reference


@st.composite
def sampled_games(draw: st.DrawFn) -> list[list[Fraction]]:
    """More players than the exact enumeration takes, so the game is sampled."""
    n = draw(st.integers(EXACT_MAX_PLAYERS + 1, 45))
    t = draw(st.integers(1, 40))
    denominator = draw(st.sampled_from([1, 4, 1000]))
    return [
        [Fraction(draw(st.integers(0, 60_000)), denominator) for _ in range(t)] for _ in range(n)
    ]


@SETTINGS
@given(sampled_games(), st.integers(0, 2**32), st.integers(1, 300))
def test_numpy_sampled_shapley_equals_the_big_integer_sampler(
    rows: list[list[Fraction]], seed: int, samples: int
) -> None:
    fast = shapley(rows, samples, seed)
    reference = shapley_reference(rows, samples, seed)
    assert fast == reference
    assert sum(fast.kw) == fast.peak


def test_allocate_runs_the_kernels_it_is_given() -> None:
    """The comparisons above mean something only if allocate() runs the kernels
    it is passed: one machine is attributed, one game of 22 players is sampled."""
    calls: Counter[str] = Counter()

    def counted(name: str, kernel: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            calls[name] += 1
            return kernel(*args)

        return run

    members = [f"m{i}" for i in range(EXACT_MAX_PLAYERS + 2)]
    data = {
        "period": {"start": "2026-03-02", "end": "2026-03-02"},
        "bill": {
            "bands": [{"name": "all", "kwh": "100", "cost": "30.00"}],
            "demand": {"cost": "50.00", "samples": 10},
            "fixed": "5.00",
        },
        "units": [{"id": "u0", "area_m2": "10"}],
        "machines": [
            {
                "id": "M0",
                "rated_kw": "3",
                "counter_wh": [["2026-03-02T08:00:00", "0"], ["2026-03-02T10:00:00", "4000"]],
            }
        ],
        "sessions": [
            {"member": "m0", "machine": "M0", "start": stamp(480), "end": stamp(540)},
        ],
        "demand_intervals_kw": [
            {m: str((i * 7 + t) % 13 + 1) for i, m in enumerate(members)} for t in range(4)
        ],
    }
    scenario = parse_scenario(data)
    kernels = Kernels(
        counted("attribute", REFERENCE.attribute_machine),
        counted("sample", REFERENCE.sample_shapley),
    )
    assert split_to_dict(allocate(scenario, kernels=kernels)) == split_to_dict(allocate(scenario))
    assert calls == {"attribute": 1, "sample": 1}
