"""The InfluxDB -> scenario step: dropping the inside of flat counter runs
leaves the split exactly as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from api.allocation import allocate, parse_scenario, split_to_dict
from api.services.counter_cache import compact, compact_days, slot_day
from api.services.split_input import LocalClock

START = datetime(2026, 1, 1)
STEP_MS = 15 * 60_000


def _scenario(
    points: list[tuple[int, int]], sessions: list[tuple[str, int, int]]
) -> dict[str, Any]:
    def stamp(ms: int) -> str:
        return (START + timedelta(milliseconds=ms)).isoformat()

    return {
        "period": {"start": "2026-01-01", "end": "2026-01-02"},
        "bill": {
            "bands": [
                {
                    "name": "day",
                    "kwh": "1000",
                    "cost": "300.00",
                    "hours": {"from": "08:00", "to": "20:00"},
                },
                {"name": "night", "kwh": "500", "cost": "100.00"},
            ],
            "fixed": "12.34",
        },
        "units": [{"id": "U1", "area_m2": "40"}, {"id": "U2", "area_m2": "60"}],
        "leases": [{"member": "A", "unit": "U1", "from": "2026-01-01", "to": "2026-01-02"}],
        "machines": [
            {
                "id": "m1",
                "rated_kw": "50",
                "grace_minutes": 15,
                "counter_wh": [[stamp(t), str(wh)] for t, wh in points],
            }
        ],
        "sessions": [
            {"member": who, "machine": "m1", "start": stamp(a * STEP_MS), "end": stamp(b * STEP_MS)}
            for who, a, b in sessions
        ],
    }


@st.composite
def series(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[str, int, int]]]:
    steps = draw(st.lists(st.sampled_from([0, 0, 0, 0, 100, 250, 3000]), min_size=4, max_size=192))
    wh, points = 0, [(-STEP_MS, 0)]
    for k, delta in enumerate(steps):
        wh += delta
        points.append((k * STEP_MS, wh))
    sessions = []
    for who in draw(st.lists(st.sampled_from(["A", "B"]), max_size=4)):
        a = draw(st.integers(0, len(steps) - 1))
        sessions.append((who, a, a + draw(st.integers(1, 8))))
    return points, sessions


@settings(max_examples=25, deadline=None)
@given(series())
def test_compaction_changes_no_cent(
    data: tuple[list[tuple[int, int]], list[tuple[str, int, int]]],
) -> None:
    points, sessions = data
    kept = compact(points)
    assert kept[0] == points[0] and kept[-1] == points[-1]
    full = split_to_dict(allocate(parse_scenario(_scenario(points, sessions))))
    short = split_to_dict(allocate(parse_scenario(_scenario(kept, sessions))))
    assert short["members"] == full["members"] and short["vacancy"] == full["vacancy"]


def _split(points: list[tuple[int, int]], sessions: list[tuple[str, int, int]]) -> Any:
    result = split_to_dict(allocate(parse_scenario(_scenario(points, sessions))))
    return result["members"], result["vacancy"]


@settings(max_examples=25, deadline=None)
@given(series(), st.data())
def test_a_day_copied_again_alone_gives_the_split_of_the_whole(
    data: tuple[list[tuple[int, int]], list[tuple[str, int, int]]], draw: st.DataObject
) -> None:
    """The counter cache keeps each day's first and last reading (compact_days), so
    that a day whose points arrived late can be replaced by compact() of that day
    alone: the readings outside the day still hold all the split needs."""
    points, sessions = data
    days = sorted({slot_day(t) for t, _ in points})
    day = draw.draw(st.sampled_from(days))
    # What the cache saw before the late points: slots of that day missing, or
    # holding an earlier (lower) reading than their last one.
    seen: list[tuple[int, int]] = []
    for t, wh in points:
        if slot_day(t) == day:
            fate = draw.draw(st.sampled_from(["kept", "missing", "earlier"]))
            if fate == "missing":
                continue
            if fate == "earlier" and seen:
                wh = seen[-1][1]
        seen.append((t, wh))
    assume(seen)
    stale = compact_days(seen)
    assert set(compact(seen)) <= set(stale)
    assert _split(stale, sessions) == _split(seen, sessions)
    replaced = sorted(
        [(t, wh) for t, wh in stale if slot_day(t) != day]
        + compact([(t, wh) for t, wh in points if slot_day(t) == day])
    )
    assert _split(replaced, sessions) == _split(points, sessions)


def test_the_last_reading_of_a_flat_day_survives_a_late_first_slot_after_it() -> None:
    """1 January ends flat at 500 Wh since 10:15; 2 January's first slot arrives
    late (30 Wh at night, in A's session). Without 1 January's last reading in
    the cache, those 30 Wh would be spread back to 10:15, mostly into the day band."""
    true = [(-STEP_MS, 0)] + [(k * STEP_MS, 0 if k <= 40 else 500) for k in range(97)]
    true += [(k * STEP_MS, 530) for k in range(97, 110)]
    seen = [(t, 500 if t == 97 * STEP_MS else wh) for t, wh in true]  # an earlier reading
    sessions = [("A", 94, 99)]  # 23:30 to 00:45
    day = slot_day(97 * STEP_MS)
    assert slot_day(96 * STEP_MS) != day
    stale = compact_days(seen)
    assert (96 * STEP_MS, 500) in stale and (96 * STEP_MS, 500) not in compact(seen)
    replaced = sorted(
        [(t, wh) for t, wh in stale if slot_day(t) != day]
        + compact([(t, wh) for t, wh in true if slot_day(t) == day])
    )
    members, _ = _split(replaced, sessions)
    assert members == _split(true, sessions)[0]
    energy = {x["item"]: x["quantity"] for x in members["A"]["lines"] if x["pool"] == "energy"}
    assert energy == {"day": "0.5", "night": "0.03"}


def test_compaction_drops_idle_readings() -> None:
    points = [(k, 5) for k in range(100)] + [(100, 7), (101, 9)] + [(k, 9) for k in range(102, 200)]
    kept = compact(points)
    assert kept == [(0, 5), (99, 5), (100, 7), (101, 9), (199, 9)]


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe"]
)
def test_local_clock_matches_zoneinfo_across_dst_changes(zone: str) -> None:
    tz = ZoneInfo(zone)
    clock = LocalClock(tz)
    for day in ("2026-03-08", "2026-03-29", "2026-04-05", "2026-10-04", "2026-10-25", "2026-11-01"):
        start = int(datetime.fromisoformat(day + "T00:00:00+00:00").timestamp() * 1000) - 86_400_000
        for ms in range(start, start + 3 * 86_400_000, 7 * 60_000 + 13_000):
            expected = datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).replace(tzinfo=None)
            assert clock(ms) == expected.isoformat(timespec="seconds"), (zone, ms)
