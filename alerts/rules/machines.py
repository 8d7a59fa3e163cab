"""Machine left on (power above idle with no session open for longer than T)
and interlock fault (power while the interlock relay is open: a welded relay
or a bypass). The interlock fault is the stronger statement about the same
power, so it replaces the left-on finding of that machine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from alerts.config import MachineConfig
from alerts.findings import Finding, Row
from alerts.rules.series import DeviceKey, evidence, held_since, with_fields


class Sessions:
    """When sessions were open, from session_start/session_end events."""

    def __init__(self, events: Sequence[Row], open_before: bool) -> None:
        self.changes = sorted(
            (int(e["time"]), e["kind"] == "session_start")
            for e in events
            if e.get("kind") in ("session_start", "session_end")
        )
        self.open_before = open_before

    def open_at(self, ms: int) -> bool:
        state = self.open_before
        for when, opened in self.changes:
            if when > ms:
                break
            state = opened
        return state


def evaluate(
    telemetry: Mapping[DeviceKey, Sequence[Row]],
    sessions: Mapping[DeviceKey, Sessions],
    config: MachineConfig,
    now_ms: int,
) -> list[Finding]:
    findings = []
    for key, rows in sorted(telemetry.items()):
        site, device = key
        powered = with_fields(rows, "w")
        if not powered or now_ms - int(powered[-1]["time"]) > config.left_on_for_s * 1000:
            continue
        fault = _interlock(site, device, with_fields(rows, "w", "relay"), config)
        if fault is not None:
            findings.append(fault)
            continue
        since = held_since(powered, _unattended(sessions.get(key, Sessions([], False)), config))
        if since is None or int(powered[-1]["time"]) - since < config.left_on_for_s * 1000:
            continue
        minutes = (int(powered[-1]["time"]) - since) / 60000
        findings.append(Finding(
            kind="machine_left_on", site=site, device=device,
            summary=(
                f"{site}/{device} draws {float(powered[-1]['w']):.0f} W with no session "
                f"for {minutes:.0f} min"
            ),
            evidence=evidence(powered, ["w", "a", "relay", "running"], since),
        ))
    return findings


def _unattended(sessions: Sessions, config: MachineConfig) -> Callable[[Row], bool]:
    def check(row: Row) -> bool:
        return float(row["w"]) > config.idle_w and not sessions.open_at(int(row["time"]))

    return check


def _interlock(
    site: str, device: str, rows: Sequence[Row], config: MachineConfig
) -> Finding | None:
    if not rows:
        return None
    since = held_since(rows, lambda r: r["relay"] < 0.5 and float(r["w"]) > config.idle_w)
    if since is None or int(rows[-1]["time"]) - since < config.interlock_for_s * 1000:
        return None
    return Finding(
        kind="interlock_fault", site=site, device=device, severity="critical",
        summary=(
            f"{site}/{device} draws {float(rows[-1]['w']):.0f} W while its interlock relay "
            "is open (welded relay or bypass)"
        ),
        evidence=evidence(rows, ["w", "a", "relay", "running"], since),
    )
