"""Machine left on (power above idle with no session open for longer than T)
and interlock fault (power while the interlock relay is open: a welded relay
or a bypass). The interlock fault is the stronger statement about the same
power, so it replaces the left-on finding of that machine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
        latest = int(powered[-1]["time"])
        since = _unattended_since(powered, sessions.get(key, Sessions([], False)), config)
        if since is None or latest - since < config.left_on_for_s * 1000:
            continue
        minutes = (latest - since) / 60000
        findings.append(Finding(
            kind="machine_left_on", site=site, device=device,
            summary=(
                f"{site}/{device} has been running with no session for {minutes:.0f} min "
                f"({float(powered[-1]['w']):.0f} W now)"
            ),
            evidence=evidence(powered, ["w", "a", "on_s", "relay", "running"], since),
        ))
    return findings


def _unattended_since(rows: Sequence[Row], sessions: Sessions, config: MachineConfig) -> int | None:
    """The first report of the machine's current use with no session open:
    runs no further apart than `pause_s`, the newest within `pause_s` of the
    newest report. None when it is not in use now."""
    pause_ms = config.pause_s * 1000
    since, newer = None, int(rows[-1]["time"])
    for k in range(len(rows) - 1, -1, -1):
        when = int(rows[k]["time"])
        if sessions.open_at(when):
            break
        gained = _gained(rows[k], rows[k - 1] if k else None)
        ran = gained > 0 if gained is not None else float(rows[k]["w"]) > config.idle_w
        if not ran:
            continue
        if newer - when > pause_ms:
            break
        since = newer = when
    return since


def _gained(row: Row, previous: Row | None) -> int | None:
    """Seconds the running-time counter gained over the interval that ends at
    `row`; None without the counter or when it restarted (a reboot)."""
    now, before = row.get("on_s"), previous.get("on_s") if previous else None
    if now is None or before is None or int(now) < int(before):
        return None
    return int(now) - int(before)


def _interlock(
    site: str, device: str, rows: Sequence[Row], config: MachineConfig
) -> Finding | None:
    if not rows:
        return None
    if len(rows) >= 2 and all(r.get("on_s") is not None for r in rows[-2:]):
        found = _ran_while_open(rows, config)
        if found is None:
            return None
        since, ran_s = found
        what = f"ran {ran_s} s"
    else:  # no running-time counter: power above idle at every report
        held = held_since(rows, lambda r: r["relay"] < 0.5 and float(r["w"]) > config.idle_w)
        if held is None or int(rows[-1]["time"]) - held < config.interlock_for_s * 1000:
            return None
        since, what = held, f"draws {float(rows[-1]['w']):.0f} W"
    return Finding(
        kind="interlock_fault", site=site, device=device, severity="critical",
        summary=(
            f"{site}/{device} {what} while its interlock relay is open (welded relay or bypass)"
        ),
        evidence=evidence(rows, ["w", "a", "on_s", "relay", "running"], since),
    )


def _ran_while_open(rows: Sequence[Row], config: MachineConfig) -> tuple[int, int] | None:
    """Over the trailing reports with the relay open at both ends of each
    interval (so a session's last seconds never count): the running time the
    counter gained, if it reaches `interlock_for_s` and the machine ran within
    `pause_s`. -> (start of that stretch, seconds run)."""
    ran_s, since, last_run = 0, None, None
    for k in range(len(rows) - 1, 0, -1):
        row, previous = rows[k], rows[k - 1]
        if row["relay"] >= 0.5 or previous["relay"] >= 0.5 or previous.get("on_s") is None:
            break
        gained = _gained(row, previous) or 0
        if gained > 0:
            ran_s += gained
            since = int(previous["time"])
            last_run = int(row["time"]) if last_run is None else last_run
    if since is None or last_run is None or ran_s < config.interlock_for_s:
        return None
    if int(rows[-1]["time"]) - last_run > config.pause_s * 1000:
        return None
    return since, ran_s
