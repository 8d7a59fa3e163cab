"""One evaluation: a snapshot of the stored data through every rule family."""

from __future__ import annotations

from alerts.config import RulesConfig
from alerts.findings import Finding, Row
from alerts.queries import Snapshot
from alerts.rules import baseload, heating, machines, offline, sensors
from alerts.rules.series import DeviceKey


def _machine_nodes(snap: Snapshot) -> dict[DeviceKey, list[Row]]:
    """Machine nodes by their announced role; without a status yet, by their
    machine-only readings (a meter also reports `w` but has no session)."""
    out = {}
    for key, rows in snap.telemetry.items():
        role = snap.roles.get(key)
        looks_like_machine = any(r.get("relay") is not None or r.get("running") is not None
                                 for r in rows)
        if role == "machine" or (role is None and looks_like_machine):
            out[key] = rows
    return out


def findings(snap: Snapshot, config: RulesConfig) -> list[Finding]:
    intervals = {
        key: offline.reporting_interval_s(rows, config.offline)
        for key, rows in snap.telemetry.items()
    }
    found: list[Finding] = []
    found += heating.evaluate(snap.telemetry, config.heating, config.opening_hours, snap.now_ms)
    found += offline.evaluate(snap.liveness, intervals, config.offline, snap.now_ms)
    found += sensors.evaluate(snap.temperatures, config.sensors, snap.now_ms, sensors.temperature)
    found += sensors.evaluate(snap.telemetry, config.sensors, snap.now_ms,
                              lambda name: not sensors.temperature(name))
    found += machines.evaluate(_machine_nodes(snap), snap.sessions, config.machines, snap.now_ms)
    found += baseload.evaluate(
        snap.hourly_power, config.base_load, config.opening_hours.timezone, snap.now_ms
    )
    return found


def held(snap: Snapshot, config: RulesConfig) -> set[str]:
    """Alert keys whose condition the data cannot judge now (see lifecycle.apply)."""
    return heating.awaiting_heat(snap.telemetry, config.heating, snap.now_ms)
