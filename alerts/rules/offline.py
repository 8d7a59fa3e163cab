"""Device silent or offline: its last will arrived (status online=0 with nothing
after it), or no message for more than N of its reporting intervals."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.config import OfflineConfig
from alerts.findings import Finding, Row
from alerts.rules.series import DeviceKey, median


@dataclass(frozen=True)
class Liveness:
    """What InfluxDB knows of one device's recent messages."""

    last_message_ms: int | None  # newest telemetry or event
    last_status_ms: int | None
    last_online: int | None  # value of the newest status point


def reporting_interval_s(rows: Sequence[Row], config: OfflineConfig) -> float:
    """The device's own telemetry period (median gap), so a slow meter and a
    fast machine node are each judged by their own rhythm."""
    times = sorted(int(r["time"]) for r in rows)
    gaps = [(b - a) / 1000 for a, b in itertools.pairwise(times) if b > a]
    if len(gaps) < 3:
        return float(config.default_interval_s)
    return max(float(config.min_interval_s), median(gaps))


def evaluate(
    liveness: Mapping[DeviceKey, Liveness],
    intervals_s: Mapping[DeviceKey, float],
    config: OfflineConfig,
    now_ms: int,
) -> list[Finding]:
    findings = []
    for (site, device), live in sorted(liveness.items()):
        seen = [t for t in (live.last_message_ms, live.last_status_ms) if t is not None]
        if not seen:
            continue
        last_seen = max(seen)
        evidence: list[Row] = [{
            "time": last_seen,
            "last_message": live.last_message_ms,
            "last_status": live.last_status_ms,
            "online": live.last_online,
        }]
        will = (
            live.last_online == 0
            and live.last_status_ms is not None
            and (live.last_message_ms is None or live.last_status_ms >= live.last_message_ms)
        )
        interval = intervals_s.get((site, device), float(config.default_interval_s))
        silent_s = (now_ms - last_seen) / 1000
        if will:
            summary = f"{site}/{device} offline: last will received (connection lost)"
            reason = "last_will"
        elif silent_s > config.missed_intervals * interval:
            summary = (
                f"{site}/{device} silent for {silent_s:.0f} s "
                f"(reports every {interval:.0f} s)"
            )
            reason = "silent"
        else:
            continue
        findings.append(Finding(
            kind="device_offline", site=site, device=device, summary=summary,
            evidence=evidence,
            details={"reason": reason, "interval_s": interval, "silent_s": silent_s},
        ))
    return findings
