"""Each step on small hand-made inputs whose answer follows from the rules."""

from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction
from math import factorial
from pathlib import Path
from typing import Any

import pytest

from api.allocation import allocate, parse_scenario, split_to_dict
from api.allocation import demand as demand_mod
from api.allocation.counters import clean_counter, gaps, with_snapshots
from api.allocation.heating import DEGREE_DAYS_PERMILLE, SUMMER_PERMILLE, day_weight
from api.allocation.rounding import largest_remainder
from api.allocation.scenario import Reading

DATA = Path(__file__).parent / "data" / "worked_example.json"
F = Fraction


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


# --- step 9: rounding --------------------------------------------------------


def test_largest_remainder_tie_rules() -> None:
    # Equal remainders: the larger exact share wins the cent.
    assert largest_remainder(100, {"a": F(100, 3), "b": F(100, 3) + 33, "c": F(100, 3) - 33}) == {
        "a": 33, "b": 67, "c": 0
    }  # fmt: skip
    # Equal remainders and shares: the smaller id wins.
    assert largest_remainder(2, {"b": F(2, 3), "a": F(2, 3), "c": F(2, 3)}) == {
        "a": 1,
        "b": 1,
        "c": 0,
    }
    # A larger remainder beats a larger share.
    assert largest_remainder(10, {"x": F(79, 10), "y": F(21, 10)}) == {"x": 8, "y": 2}


def test_largest_remainder_third_rule_prefers_fewer_earlier_leftover_cents() -> None:
    tied = {"a": F(3, 2), "b": F(3, 2)}
    assert largest_remainder(3, tied) == {"a": 2, "b": 1}
    assert largest_remainder(3, tied, {"a": 1}) == {"a": 1, "b": 2}
    # The earlier count only breaks ties left by the remainder and the exact share.
    assert largest_remainder(3, {"a": F(8, 5), "b": F(7, 5)}, {"a": 5}) == {"a": 2, "b": 1}


def test_identical_members_take_turns_with_tied_leftover_cents() -> None:
    # A and B are identical and tie on a half cent in every pool. With the id as
    # the only tie-breaker A would win all three cents (6 vs 3).
    split = allocate(
        parse_scenario(
            {
                "period": {"start": "2026-01-01", "end": "2026-01-31"},
                "bill": {
                    "bands": [{"name": "all", "kwh": "2", "cost": "0.03"}],
                    "demand": {"cost": "0.03"},
                    "fixed": "0.03",
                },
                "units": [{"id": "U1", "area_m2": "1"}, {"id": "U2", "area_m2": "1"}],
                "leases": [
                    {"member": "A", "unit": "U1", "from": "2026-01-01", "to": "2026-01-31"},
                    {"member": "B", "unit": "U2", "from": "2026-01-01", "to": "2026-01-31"},
                ],
                "metered_kwh": {"A": {"all": "1"}, "B": {"all": "1"}},
                "demand_intervals_kw": [{"A": "1", "B": "1"}],
            }
        )
    )
    cents = {name: split.pools[name].cents for name in ("energy", "demand", "common")}
    assert cents == {
        "energy": {"A": 2, "B": 1},
        "demand": {"A": 1, "B": 2},
        "common": {"A": 2, "B": 1},
    }
    assert (split.members["A"].total_cents, split.members["B"].total_cents) == (5, 4)


def test_largest_remainder_refuses_shares_that_do_not_add_up() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        largest_remainder(10, {"a": F(3), "b": F(3)})


# --- step 6: demand ----------------------------------------------------------


def brute_shapley(rows: list[list[Fraction]]) -> list[Fraction]:
    n = len(rows)

    def v(coalition: tuple[int, ...]) -> Fraction:
        return max(
            (sum((rows[i][t] for i in coalition), F(0)) for t in range(len(rows[0]))), default=F(0)
        )

    phi = [F(0)] * n
    for order in itertools.permutations(range(n)):
        seen: tuple[int, ...] = ()
        for i in order:
            phi[i] += v((*seen, i)) - v(seen)
            seen = (*seen, i)
    return [p / factorial(n) for p in phi]


@pytest.mark.parametrize("seed", range(8))
def test_exact_shapley_matches_the_definition(seed: int) -> None:
    rnd = random.Random(seed)
    n, t = rnd.randint(1, 6), rnd.randint(1, 7)
    rows = [[F(rnd.randint(0, 30), rnd.choice([1, 2, 10])) for _ in range(t)] for _ in range(n)]
    got = demand_mod.shapley(rows, 10, 0)
    if any(any(r) for r in rows):
        assert got.method == "shapley (exact)"
        assert list(got.kw) == brute_shapley(rows)
        assert sum(got.kw) == got.peak


def test_sampled_shapley_sums_exactly_and_approaches_the_exact_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rnd = random.Random(3)
    rows = [[F(rnd.randint(0, 20)) for _ in range(6)] for _ in range(7)]
    exact = demand_mod.shapley(rows, 1, 0)
    monkeypatch.setattr(demand_mod, "EXACT_MAX_PLAYERS", 0)
    sampled = demand_mod.shapley(rows, 3000, 1)
    assert sampled.method.startswith("shapley (mean of 3000")
    assert sum(sampled.kw) == sampled.peak == exact.peak
    for a, b in zip(sampled.kw, exact.kw, strict=True):
        assert abs(a - b) < F(1, 2)
    assert demand_mod.shapley(rows, 3000, 1) == sampled  # seeded


def test_coincident_peak_averages_tied_peaks() -> None:
    shares = demand_mod.coincident_peak([[F(10), F(0)], [F(0), F(10)]])
    assert shares.kw == (F(5), F(5))


# --- step 1: counters ----------------------------------------------------------


def readings(*pairs: tuple[int, int]) -> list[Reading]:
    return [Reading(t, F(v)) for t, v in pairs]


def test_counter_reset_jump_and_spreading() -> None:
    c = clean_counter(
        readings((0, 100), (900, 400), (1800, 50), (2700, 9999), (3600, 10000), (5400, 10300)),
        F(2),  # 2 kW: at most 1.1 x 2 x 0.25 h = 550 Wh per slot
        96 * 900,
    )
    assert c.resets == 1
    assert [(r.start, r.end) for r in c.rejected] == [(1800, 2700)]
    assert c.slot_wh == {0: 300, 1: 50, 3: 1, 4: 150, 5: 150}
    assert gaps(c.covered, 96 * 900) == [(1800, 2700), (5400, 96 * 900)]


def test_counter_energy_outside_the_period_is_dropped() -> None:
    c = clean_counter(readings((-900, 0), (900, 200)), F(10), 96 * 900)
    assert c.slot_wh == {0: 100}


# --- steps 2-4 through a small scenario with counters ------------------------------


def series_scenario(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "period": {"start": "2026-01-05", "end": "2026-01-05"},
        "bill": {"bands": [{"name": "all", "kwh": "100", "cost": "30.00"}], "fixed": "0.00"},
        "units": [{"id": "U1", "area_m2": "10"}],
        "leases": [{"member": "A", "unit": "U1", "from": "2026-01-05", "to": "2026-01-05"}],
        "machines": [
            {"id": "L", "rated_kw": "10", "grace_minutes": 15,
             "counter_wh": [["2026-01-05T08:00", "0"], ["2026-01-05T09:00", "4000"]]},
        ],
        "sessions": [
            {"member": "A", "machine": "L", "start": "2026-01-05T08:00", "end": "2026-01-05T08:15"},
            {"member": "B", "machine": "L", "start": "2026-01-05T08:15", "end": "2026-01-05T08:30"},
        ],
    }  # fmt: skip
    data.update(extra)
    return data


def energy_lines(out: dict[str, Any], member: str) -> Fraction:
    return sum(
        (F(ln["quantity"]) for ln in out["members"][member]["lines"] if ln["pool"] == "energy"),
        F(0),
    )


def test_grace_window_goes_to_the_last_user_and_idle_energy_is_overhead() -> None:
    out = split_to_dict(allocate(parse_scenario(series_scenario())))
    # 1 kWh per slot: A 08:00-08:15, B 08:15-08:30 plus grace to 08:45, then
    # 08:45-09:00 is overhead, split by session minutes (15 and 15).
    assert energy_lines(out, "A") == F(3, 2)
    assert energy_lines(out, "B") == F(5, 2)


def test_a_slot_cut_by_sessions_is_shared_where_the_snapshots_put_its_energy() -> None:
    """A's session ends and B's begins inside the 08:00 slot; the machine is off
    between them. The counter's readings at the slot's ends hold its 900 Wh; the
    snapshots taken as the sessions started and ended (the nodes' counter on
    their session events) say where they were drawn: A gets the 300 Wh of
    08:00-08:04, B the 600 Wh of 08:10-08:15, the overhead nothing. By the time
    alone A would get 4/15 of the slot, B 5/15, and 6/15 would be overhead."""
    readings = [["2026-01-05T07:45", "0"], ["2026-01-05T08:00", "0"],
                ["2026-01-05T08:15", "900"], ["2026-01-05T08:30", "900"]]
    snapshots = [["2026-01-05T07:50", "0"], ["2026-01-05T08:04", "300"],
                 ["2026-01-05T08:10", "300"], ["2026-01-05T08:20", "900"]]
    machine = {"id": "L", "rated_kw": "10", "grace_minutes": 0, "counter_wh": readings}
    data = series_scenario(
        machines=[{**machine, "snapshots_wh": snapshots}],
        sessions=[
            {"member": "A", "machine": "L", "start": "2026-01-05T07:50", "end": "2026-01-05T08:04"},
            {"member": "B", "machine": "L", "start": "2026-01-05T08:10", "end": "2026-01-05T08:20"},
        ])  # fmt: skip
    out = split_to_dict(allocate(parse_scenario(data)))
    assert energy_lines(out, "A") == F(3, 10) and energy_lines(out, "B") == F(6, 10)
    # Without them: the slot is shared by time.
    data["machines"] = [machine]
    out = split_to_dict(allocate(parse_scenario(data)))
    overhead = F(9, 10) * F(6, 15)  # shared by session minutes: A 14, B 10
    assert energy_lines(out, "A") == F(9, 10) * F(4, 15) + overhead * F(14, 24)
    assert energy_lines(out, "B") == F(9, 10) * F(5, 15) + overhead * F(10, 24)


def test_a_reading_stamped_late_gives_way_to_the_snapshot_it_contradicts() -> None:
    """A reading may be stamped later than it was read; a snapshot has its
    moment exactly. 100 Wh between a reading at 900 s and a snapshot 5 s later
    is beyond a 10 kW machine, so the reading gives way; the total stays. A
    snapshot below the point before it (a counter that restarted) is left out."""
    readings = [Reading(0, F(0)), Reading(900, F(100)), Reading(1800, F(200))]
    merged = with_snapshots(readings, [Reading(905, F(200))], F(10))
    assert [(r.at, r.wh) for r in merged] == [(0, 0), (905, 200), (1800, 200)]
    shaped = clean_counter(readings, F(10), 96 * 900, [Reading(905, F(200))])
    assert shaped.slot_wh == {0: F(200 * 900, 905), 1: F(200 * 5, 905)}
    assert shaped.total_wh == clean_counter(readings, F(10), 96 * 900).total_wh == 200
    assert shaped.energy(900, 905) == F(200 * 5, 905) and shaped.energy(905, 1800) == 0
    restarted = with_snapshots(readings, [Reading(1000, F(5))], F(10))
    assert [(r.at, r.wh) for r in restarted] == [(r.at, r.wh) for r in readings]
    # Read at 890 (stamped 900, its slot's end), below the snapshot taken at 895:
    # it gives way, unless it is below the readings before the snapshot too.
    late = [Reading(0, F(0)), Reading(850, F(50)), Reading(900, F(60)), Reading(1800, F(90))]
    kept = with_snapshots(late, [Reading(895, F(70))], F(10))
    assert [(r.at, r.wh) for r in kept] == [(0, 0), (850, 50), (895, 70), (1800, 90)]


def test_machine_without_sessions_goes_to_the_common_pool() -> None:
    out = split_to_dict(allocate(parse_scenario(series_scenario(sessions=[]))))
    assert out["pools"]["energy"]["entries"] == {"common": "30.00"}
    assert out["members"]["A"]["pools"]["common"] == "30.00"


def test_gap_estimated_from_history_then_comparable_then_average() -> None:
    session = {
        "member": "B",
        "machine": "L",
        "start": "2026-01-05T10:00",
        "end": "2026-01-05T11:00",
    }
    base = series_scenario()
    base["sessions"].append(session)  # the counter stops at 09:00: a gap
    with_history = json.loads(json.dumps(base))
    with_history["machines"][0]["history_kwh_per_session_hour"] = "0.5"
    out = split_to_dict(allocate(parse_scenario(with_history)))
    fill = out["estimates"]["gap_fills"][0]
    assert (fill["source"], fill["kwh_per_session_hour"]) == ("this machine's past periods", "0.5")
    assert out["members"]["B"]["estimated"] is True
    assert out["estimates"]["members"] == ["B"]
    # 2 kWh in use and grace, 5/6 of the 1 kWh overhead (75 of 90 session minutes),
    # 0.5 kWh estimated for the hour in the gap.
    assert abs(energy_lines(out, "B") - (2 + F(5, 6) + F(1, 2))) < F(1, 10**5)
    # Without history: a machine of the same kind this period (1 kWh per session-hour).
    comparable = json.loads(json.dumps(base))
    for m in comparable["machines"]:
        m["kind"] = "laser"
    comparable["machines"].append(
        {"id": "K", "rated_kw": "2", "kind": "laser",
         "counter_wh": [["2026-01-05T08:00", "0"], ["2026-01-05T11:00", "3000"]]}
    )  # fmt: skip
    comparable["sessions"].append(
        {"member": "C", "machine": "K", "start": "2026-01-05T08:00", "end": "2026-01-05T11:00"}
    )
    out = split_to_dict(allocate(parse_scenario(comparable)))
    fill = out["estimates"]["gap_fills"][0]
    assert (fill["source"], fill["kwh_per_session_hour"]) == (
        "comparable machines (laser) this period", "1"
    )  # fmt: skip
    # Without either: the average of all machines (4 kWh / 0.5 session-hours).
    out = split_to_dict(allocate(parse_scenario(base)))
    fill = out["estimates"]["gap_fills"][0]
    assert (fill["source"], fill["kwh_per_session_hour"]) == (
        "average of all machines this period", "8"
    )  # fmt: skip
    # That estimate (8 kWh) is over a quarter of the attributed energy: fixed key.
    assert any(a["kind"] == "estimates" for a in out["alerts"])
    assert out["pools"]["energy"]["entries"] == {"A": "30.00"}


def test_reconciliation_scales_down_and_holds_beyond_tolerance() -> None:
    data = example()
    data["metered_kwh"]["A"]["peak"] = "1320"  # 2,020 peak kWh attributed, the bill has 2,000
    out = split_to_dict(allocate(parse_scenario(data)))
    assert out["held"] is False  # 1% over: within the 2% tolerance
    assert "scaled down" in out["alerts"][0]["message"]
    assert out["pools"]["energy"]["entries"]["common"] == "120.00"  # only off-peak is left
    data["metered_kwh"]["A"]["peak"] = "1400"
    out = split_to_dict(allocate(parse_scenario(data)))
    assert out["held"] is True
    assert out["alerts"][0]["hold"] is True
    assert out["total"] == "1251.11"


def test_redistribute_policy_spreads_vacancy_over_occupied_units() -> None:
    data = example()
    data["vacancy_policy"] = "redistribute"
    out = split_to_dict(allocate(parse_scenario(data)))
    assert out["vacancy"] == "0.00"
    common = out["pools"]["common"]["entries"]
    assert sum(F(v) for v in common.values()) == F("461.11")
    assert abs(F(common["A"]) - F("461.11") * 3000 / 5150) < F(1, 100)


# --- step 8: heating -------------------------------------------------------------


def test_degree_day_table_covers_the_year() -> None:
    assert sum(DEGREE_DAYS_PERMILLE.values()) + SUMMER_PERMILLE == 1000
    from datetime import date, timedelta

    year = [date(2026, 1, 1) + timedelta(days=d) for d in range(365)]
    assert sum(day_weight(d) for d in year) == 1000
    assert day_weight(date(2026, 1, 10)) > day_weight(date(2026, 7, 10))


def test_heating_by_area_then_by_meters() -> None:
    data = example()
    data["heating"] = {"cost": "900.00"}
    out = split_to_dict(allocate(parse_scenario(data)))
    heating = out["pools"]["heating"]["entries"]
    # January only: degree-day weights are equal per day, so area x days decides.
    assert heating == {"A": "360.00", "B": "180.00", "C": "78.00", "vacancy": "282.00"}
    data["heating"] = {
        "cost": "900.00", "alpha": "0.6",
        "heat_meters_kwh": {"U1": "100", "U2": "300", "U3": "0", "V": "0"},
    }  # fmt: skip
    out = split_to_dict(allocate(parse_scenario(data)))
    heating = out["pools"]["heating"]["entries"]
    assert heating["B"] == "477.00"  # 0.4 x 900 x 1,500/7,500 + 0.6 x 900 x 3/4
    assert sum(F(v) for v in heating.values()) == 900
    assert out["total"] == "2151.11"


def test_heating_alpha_outside_the_legal_range_is_refused() -> None:
    data = example()
    data["heating"] = {"cost": "9.00", "alpha": "0.8", "heat_meters_kwh": {"U1": "1"}}
    with pytest.raises(ValueError, match=r"heating.alpha: 0.8 outside 0.5..0.7"):
        parse_scenario(data)


def test_demand_derived_from_main_meter_and_attributed_slots() -> None:
    main = ["0.5"] * 96
    main[32:36] = ["1.5"] * 4  # 08:00-09:00: the laser's 1 kWh per slot on top
    data = series_scenario(main_meter_kwh=main)
    data["bill"]["demand"] = {"cost": "60.00"}
    out = split_to_dict(allocate(parse_scenario(data)))
    # Base is 2 kW all day, the laser adds 4 kW for an hour: the peak is 6 kW, and
    # base's marginal contribution is 2 kW in every ordering.
    demand = out["pools"]["demand"]["entries"]
    assert out["demand"]["building_peak_kw"] == "6"
    assert demand["base"] == "20.00"
    assert sum(F(v) for v in demand.values()) == 60
    assert F(demand["A"]) > 0 and F(demand["B"]) > 0
