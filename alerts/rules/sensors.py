"""Sensor implausible: a temperature stuck at one exact value, a reading outside
its physical range, or a temperature that jumps. Only physical quantities are
judged (t_* in °C, w in W, a in A): binary inputs and counters legitimately
sit still."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

from alerts.config import SensorConfig
from alerts.findings import Finding, Row
from alerts.rules.series import DeviceKey, evidence, held_since, with_fields


def _range(field: str, config: SensorConfig) -> tuple[float, float] | None:
    if field.startswith("t_"):
        return config.temperature_min_c, config.temperature_max_c
    if field == "w":
        return 0.0, config.power_max_w
    if field == "a":
        return 0.0, config.current_max_a
    return None


def temperature(field: str) -> bool:
    return field.startswith("t_")


def evaluate(
    telemetry: Mapping[DeviceKey, Sequence[Row]],
    config: SensorConfig,
    now_ms: int,
    judged: Callable[[str], bool] = lambda field: True,
) -> list[Finding]:
    """`judged` narrows which fields to look at (the temperatures come from a
    longer window than the rest)."""
    findings = []
    for (site, device), rows in sorted(telemetry.items()):
        present: set[str] = set().union(*rows)  # rows of one series share their keys
        names = sorted(k for k in present if judged(k) and _range(k, config) is not None)
        for name in names:
            samples = with_fields(rows, name)
            if not samples:
                continue
            problem = _judge(name, samples, config, now_ms)
            if problem is None:
                continue
            reason, text, since = problem
            findings.append(Finding(
                kind="sensor_implausible", site=site, device=device, subject=name,
                summary=f"{site}/{device} {name}: {text}",
                evidence=evidence(samples, [name], since),
                details={"reason": reason},
            ))
    return findings


def _judge(
    name: str, rows: Sequence[Row], config: SensorConfig, now_ms: int
) -> tuple[str, str, int] | None:
    low, high = _range(name, config) or (float("-inf"), float("inf"))
    last = rows[-1]
    value = float(last[name])
    if not low <= value <= high:
        return "out_of_range", f"{value:g} outside [{low:g}, {high:g}]", int(last["time"])
    if not temperature(name):
        return None
    since = held_since(rows, lambda r: float(r[name]) == value)
    run = [r for r in rows if since is not None and int(r["time"]) >= since]
    if (
        since is not None
        and len(run) >= config.stuck_min_samples
        and now_ms - since >= config.stuck_for_s * 1000
    ):
        return (
            "stuck",
            f"stuck at {value:g} for {(now_ms - since) / 3600000:.1f} h",
            since,
        )
    recent = [r for r in rows if int(r["time"]) > now_ms - config.jump_window_s * 1000]
    jumps = [
        b for a, b in itertools.pairwise(recent)
        if abs(float(b[name]) - float(a[name])) > config.jump_c
    ]
    if len(jumps) >= config.jumps_to_fire:
        return (
            "jumping",
            f"{len(jumps)} jumps above {config.jump_c:g} K in "
            f"{config.jump_window_s / 60:g} min",
            int(jumps[0]["time"]) - 1,
        )
    return None
