"""Late-write markers: one per site, device and UTC day of the points written
more than LATE_MS after their time; none for anything else."""

from __future__ import annotations

from timeseries import arrivals

NOW = 1_790_000_000_000  # 2026-09-21T14:13:20Z
DAY = arrivals.DAY_MS


def _point(device: str, at_ms: int, measurement: str = "telemetry") -> str:
    return f'{measurement},site=lab,device={device} wh=1i,fw="a b" {at_ms}'


def test_a_marker_per_device_and_day_of_the_late_points() -> None:
    three_days_ago = NOW - 3 * DAY
    lines = [
        _point("node1", three_days_ago),
        _point("node1", three_days_ago + 60_000),  # same day: one marker
        _point("node2", three_days_ago, "event").replace("site=lab,", "site=lab,kind=badge,"),
        _point("node1", NOW - 10 * DAY),
        _point("node3", NOW - arrivals.LATE_MS + 1),  # not late yet
        _point("node3", NOW),
    ]
    day = arrivals.day_start
    assert arrivals.markers(lines, NOW) == [
        f"late_write,device=node1,site=lab written_ms={NOW}i {day(NOW - 10 * DAY)}",
        f"late_write,device=node1,site=lab written_ms={NOW}i {day(three_days_ago)}",
        f"late_write,device=node2,site=lab written_ms={NOW}i {day(three_days_ago)}",
    ]


def test_no_marker_for_markers_lines_without_site_or_device_or_a_time() -> None:
    old = NOW - 5 * DAY
    lines = [
        f"late_write,device=node1,site=lab written_ms=1i {old}",
        f"telemetry,site=lab wh=1i {old}",
        f"telemetry,device=node1 wh=1i {old}",
        "telemetry,site=lab,device=node1 wh=1i",
        "",
    ]
    assert arrivals.markers(lines, NOW) == []


def test_a_day_is_a_utc_day() -> None:
    midnight = NOW - NOW % DAY
    assert arrivals.day_start(midnight) == midnight
    assert arrivals.day_start(midnight - 1) == midnight - DAY
    assert arrivals.day_start(midnight + DAY - 1) == midnight
