"""Base-load anomaly: the building's mean power at night above the median of
recent nights by a margin (a compressor leaking, a kiln left on, heaters
forgotten). Input: hourly buckets of the meter's power (mean and count)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date

from alerts.config import BaseLoadConfig
from alerts.findings import Finding, Row
from alerts.rules.series import DeviceKey, local_time, median

HOUR_MS = 3_600_000


def nightly_means(
    buckets: Sequence[Row], config: BaseLoadConfig, timezone: str, now_ms: int
) -> dict[date, tuple[float, int]]:
    """Per night (the local date it falls on): mean W weighted by sample count,
    and how many hours of it had data; only buckets that started before now."""
    sums: dict[date, float] = defaultdict(float)
    counts: dict[date, int] = defaultdict(int)
    hours: dict[date, int] = defaultdict(int)
    for bucket in buckets:
        start = int(bucket["time"])
        count = int(bucket.get("count") or 0)
        if start >= now_ms or count == 0 or bucket.get("mean") is None:
            continue
        local = local_time(start, timezone)
        if not config.night_start_hour <= local.hour < config.night_end_hour:
            continue
        night = local.date()
        sums[night] += float(bucket["mean"]) * count
        counts[night] += count
        hours[night] += 1
    return {n: (sums[n] / counts[n], hours[n]) for n in counts}


def evaluate(
    hourly: Mapping[DeviceKey, Sequence[Row]],
    config: BaseLoadConfig,
    timezone: str,
    now_ms: int,
) -> list[Finding]:
    findings = []
    for (site, device), buckets in sorted(hourly.items()):
        nights = nightly_means(buckets, config, timezone, now_ms)
        if not nights:
            continue
        latest = max(nights)
        mean_w, hours = nights[latest]
        if hours * 3600 < config.min_night_coverage_s:
            # Too little of this night yet: judge the last full one instead.
            older = [n for n in nights if n < latest]
            if not older:
                continue
            latest = max(older)
            mean_w, hours = nights[latest]
        history = sorted((n for n in nights if n < latest), reverse=True)[: config.learn_nights]
        if len(history) < config.min_nights:
            continue
        baseline = median([nights[n][0] for n in history])
        limit = max(baseline * (1 + config.margin), baseline + config.min_excess_w)
        if mean_w <= limit:
            continue
        findings.append(Finding(
            kind="base_load", site=site, device=device,
            summary=(
                f"night base load at {site}/{device} on {latest.isoformat()}: "
                f"{mean_w:.0f} W against a learned {baseline:.0f} W"
            ),
            evidence=[
                {"night": n.isoformat(), "mean_w": round(nights[n][0], 1), "hours": nights[n][1]}
                for n in sorted([latest, *history])
            ],
            details={"night": latest.isoformat(), "baseline_w": baseline, "mean_w": mean_w},
        ))
    return findings
