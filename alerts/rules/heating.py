"""Heating failure: the boiler calls but the flow does not get (or stay) hot, the
flow-return difference collapses while it runs, or a zone stays cold in
opening hours. All conditions of one heating node make ONE alert: a broken
boiler is one problem for the coordinator, the conditions are its evidence.

A boiler nobody asks for heat can be neither blamed nor cleared: `awaiting_heat`
names the nodes whose flow does not show heat being made now, so their open
alert stays open until it does (one alert per failure, however often the
thermostat calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alerts.config import HeatingConfig, OpeningHours
from alerts.findings import Finding, Row, dedupe_key
from alerts.rules.series import DeviceKey, evidence, held_since, in_opening_hours, with_fields


def evaluate(
    telemetry: Mapping[DeviceKey, Sequence[Row]],
    config: HeatingConfig,
    hours: OpeningHours,
    now_ms: int,
) -> list[Finding]:
    findings = []
    for (site, device), rows in sorted(telemetry.items()):
        if not rows or now_ms - int(rows[-1]["time"]) > config.rise_window_s * 1000:
            continue  # stale data says nothing about the heating now; the offline rule speaks
        finding = _evaluate_node(site, device, rows, config, hours)
        if finding is not None:
            findings.append(finding)
    return findings


def awaiting_heat(
    telemetry: Mapping[DeviceKey, Sequence[Row]], config: HeatingConfig, now_ms: int
) -> set[str]:
    """Alert keys of the heating nodes whose flow does not show the boiler making
    heat now (not calling, still warming up, or no fresh data): their absence of
    a finding says nothing, so an open heating alert of theirs must not resolve."""
    waiting = set()
    for (site, device), rows in telemetry.items():
        boiler = with_fields(rows, "t_flow", "call")
        if not boiler:
            continue  # zone sensors only: no boiler to wait for
        fresh = now_ms - int(boiler[-1]["time"]) <= config.rise_window_s * 1000
        if not (fresh and _making_heat(boiler, config)):
            waiting.add(dedupe_key("heating", site, device))
    return waiting


def _making_heat(rows: Sequence[Row], config: HeatingConfig) -> bool:
    """The flow is hot, or rose as it should since the thermostat began calling;
    while calling, the return (where measured) shows heat leaving too."""
    last = rows[-1]
    flow_now = float(last["t_flow"])
    if flow_now < config.flow_hot_c:
        call = _call_rise(rows)
        if call is None or call[1] < config.rise_c:
            return False
    if last["call"] >= 0.5 and last.get("t_return") is not None:
        return flow_now - float(last["t_return"]) >= config.min_delta_c
    return True


def _call_rise(rows: Sequence[Row]) -> tuple[int, float] | None:
    """(when the current call began, how far the flow rose since), None when not calling."""
    call_since = held_since(rows, lambda r: r["call"] >= 0.5)
    if call_since is None:
        return None
    start = next(r for r in rows if int(r["time"]) == call_since)
    return call_since, float(rows[-1]["t_flow"]) - float(start["t_flow"])


def _evaluate_node(
    site: str, device: str, rows: Sequence[Row], config: HeatingConfig, hours: OpeningHours
) -> Finding | None:
    conditions: list[str] = []
    since_ms: int | None = None
    boiler = with_fields(rows, "t_flow", "call")
    if boiler:
        for text, started in _boiler_conditions(boiler, config):
            conditions.append(text)
            since_ms = started if since_ms is None else min(since_ms, started)
    zone_fields = sorted(k for k in set().union(*rows) if k.startswith("t_zone"))
    for zone in zone_fields:
        result = _zone_cold(device, zone, with_fields(rows, zone), config, hours)
        if result is not None:
            conditions.append(result[0])
            since_ms = result[1] if since_ms is None else min(since_ms, result[1])
    if not conditions or since_ms is None:
        return None
    fields = ["call", "t_flow", "t_return", *zone_fields]
    return Finding(
        kind="heating",
        site=site,
        device=device,
        severity="critical",
        summary=f"heating failure at {site}/{device}: " + "; ".join(conditions),
        evidence=evidence(rows, fields, since_ms),
        details={"conditions": conditions},
    )


def _boiler_conditions(rows: Sequence[Row], config: HeatingConfig) -> list[tuple[str, int]]:
    last = rows[-1]
    now = int(last["time"])
    call = _call_rise(rows)
    if call is None:
        return []
    call_since, rise = call
    out: list[tuple[str, int]] = []
    on_for_s = (now - call_since) / 1000
    flow_now = float(last["t_flow"])
    if on_for_s >= config.rise_window_s and rise < config.rise_c and flow_now < config.flow_hot_c:
        out.append((
            f"boiler calls for {on_for_s / 60:.0f} min but flow rose only {rise:+.1f} K "
            f"to {flow_now:.1f} °C (needs +{config.rise_c:g} K within "
            f"{config.rise_window_s / 60:g} min)",
            call_since,
        ))
    window_start = max(call_since, now - config.rise_window_s * 1000)
    recent = [r for r in rows if int(r["time"]) >= window_start]
    peak = max(recent, key=lambda r: float(r["t_flow"]))
    if flow_now < float(peak["t_flow"]) - config.drop_c:
        out.append((
            f"flow fell from {float(peak['t_flow']):.1f} to {flow_now:.1f} °C while the "
            "boiler calls",
            int(peak["time"]),
        ))
    paired = with_fields(rows, "t_flow", "t_return", "call")
    if paired and on_for_s >= config.rise_window_s:
        collapsed = held_since(
            paired,
            lambda r: r["call"] >= 0.5
            and float(r["t_flow"]) - float(r["t_return"]) < config.min_delta_c,
        )
        if collapsed is not None and now - collapsed >= config.delta_window_s * 1000:
            delta = flow_now - float(paired[-1]["t_return"])
            out.append((
                f"flow-return difference {delta:.1f} K below {config.min_delta_c:g} K for "
                f"{(now - collapsed) / 60000:.0f} min while the boiler calls",
                collapsed,
            ))
    return out


def _zone_cold(
    device: str, zone: str, rows: Sequence[Row], config: HeatingConfig, hours: OpeningHours
) -> tuple[str, int] | None:
    if not rows:
        return None
    setpoint = config.zone_setpoints.get(f"{device}.{zone}", config.zone_setpoint_c)
    limit = setpoint - config.zone_margin_c
    since = held_since(
        rows, lambda r: float(r[zone]) < limit and in_opening_hours(int(r["time"]), hours)
    )
    if since is None:
        return None
    cold_ms = int(rows[-1]["time"]) - since
    if cold_ms < config.zone_cold_for_s * 1000:
        return None
    return (
        f"{zone} at {float(rows[-1][zone]):.1f} °C, below {limit:g} °C for "
        f"{cold_ms / 60000:.0f} min in opening hours",
        since,
    )
