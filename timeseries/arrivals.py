"""Late-arrival markers: which device's points of which day were written late.

InfluxDB 1.x keeps no arrival time, and a point carries the time its device
stamped on it: a node replaying its outbox, or the gateway draining its spool
after an outage, writes points that look as if they had been there all along.
A reader that copies old data once (the api's counter cache) would never see
them. So whoever writes points, once InfluxDB has taken them, writes a marker
for every (site, device, UTC day) among them that is older than LATE_MS:

    late_write,site=<site>,device=<device> written_ms=<writer's clock>i <day start>

One series per device, one point per day: a later marker of the same day
overwrites the earlier one, so a reader that remembers the values it has seen
notices a new late write by a changed value, without comparing clocks. Points
written less than LATE_MS after their time need no marker: a reader that
waits longer than that (plus any clock skew) before copying sees them anyway.

Tags are read from the line as written: the project's points name site and
device with validated names (a-z 0-9 _ -), which need no escaping."""

from __future__ import annotations

from collections.abc import Iterable

MEASUREMENT = "late_write"
FIELD = "written_ms"
DAY_MS = 86_400_000
LATE_MS = 3_600_000


def is_markers(body: bytes) -> bool:
    """A body of marker lines (markers are written, and spooled, on their own)."""
    return body.startswith(MEASUREMENT.encode() + b",")


def day_start(ms: int) -> int:
    return ms - ms % DAY_MS


def markers(lines: Iterable[str], now_ms: int) -> list[str]:
    """The marker lines for the points among `lines` older than LATE_MS at
    `now_ms`; none for points without site and device tags, or for markers."""
    edge = now_ms - LATE_MS
    keyed: set[tuple[str, int]] = set()  # (series key, day): tags are read once per series
    for text in lines:
        try:
            at_ms = int(text[text.rfind(" ") + 1 :])
        except ValueError:
            continue
        if at_ms < edge:
            keyed.add((text[: text.find(" ")], at_ms - at_ms % DAY_MS))
    days: set[tuple[str, str, int]] = set()
    for key, day in keyed:
        measurement, *tags = key.split(",")
        site = next((t for t in tags if t.startswith("site=")), "")
        device = next((t for t in tags if t.startswith("device=")), "")
        if measurement != MEASUREMENT and site and device:
            days.add((site, device, day))
    return [
        f"{MEASUREMENT},{device},{site} {FIELD}={now_ms}i {day}"
        for site, device, day in sorted(days)
    ]
