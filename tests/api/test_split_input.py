"""The InfluxDB -> scenario step: dropping the inside of flat counter runs
leaves the split exactly as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.allocation import allocate, parse_scenario, split_to_dict
from api.services.counter_cache import compact
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
