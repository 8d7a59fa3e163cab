"""Expand a panel's InfluxQL the way Grafana's InfluxDB data source does before
sending it: $timeFilter (absolute range in ms), $__interval / $interval (range
over max data points, rounded to Grafana's steps, at least the data source's
minimum), $__interval_ms, $__range_ms, and template variables (multi-value and All become
a regex alternation `(a|b)`, values regex-escaped)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Grafana's rangeutil.roundInterval thresholds (ms -> rounded ms), abridged to
# what a dashboard range of minutes to months produces.
_ROUND = [
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
    (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000),
    (16_200_000, 10_800_000), (32_400_000, 21_600_000), (86_400_000, 43_200_000),
    (604_800_000, 86_400_000),
]


def round_interval(ms: float) -> int:
    for limit, rounded in _ROUND:
        if ms < limit:
            return rounded
    return 604_800_000


def interval_ms(range_ms: int, max_data_points: int = 1000, min_ms: int = 10_000) -> int:
    return max(round_interval(range_ms / max_data_points), min_ms)


def duration(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def expand(query: str, start_ms: int, end_ms: int,
           variables: Mapping[str, Sequence[str]] | None = None) -> str:
    step = interval_ms(end_ms - start_ms)
    text = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    text = text.replace("$__interval_ms", str(step))
    text = text.replace("$__range_ms", str(end_ms - start_ms))
    text = text.replace("$__interval", duration(step)).replace("$interval", duration(step))
    for name, values in sorted((variables or {}).items(), key=lambda kv: -len(kv[0])):
        escaped = [re.escape(v) for v in values]
        value = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        pattern = re.compile(r"\$\{" + name + r"\}|\$" + name + r"\b")
        text = pattern.sub(value.replace("\\", "\\\\"), text)
    if re.search(r"\$[{\w]", re.sub(r"'[^']*'", "", text)):
        raise ValueError(f"unexpanded macro left in {text!r}")
    return text
