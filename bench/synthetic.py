"""Data-contract-shaped series of a building, written straight to InfluxDB the
way the gateway writes them (measurement, tags site/device, ms times): for the
alert and dashboard tests and for bench/alerts.py.

A small physical model makes them: a boiler with pump and thermostat heating a
zone, a machine with sessions, a utility meter. Deterministic (seeded noise);
the noise matters, a real sensor never repeats the exact same float for hours."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from timeseries.lines import float_field, int_field, line, string_field, tag_suffix

SITE = "mf1"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def ms(text: str) -> int:
    """'2026-11-02T07:00' (UTC) -> Unix ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def status(device: str, ts: int, role: str, online: bool = True, up: int = 0,
           heap: int = 90000, outbox: int = 0, reconnects: int = 0, rssi: int = -60) -> str:
    tags = tag_suffix(("site", SITE), ("device", device))
    if not online:
        return line("status", tags, {"online": int_field(0), "state": string_field("offline")}, ts)
    fields = {
        "online": int_field(1), "state": string_field("online"), "role": string_field(role),
        "fw": string_field("1.0.0"), "up": int_field(up), "heap": int_field(heap),
        "outbox": int_field(outbox), "dropped": int_field(0), "reconnects": int_field(reconnects),
        "rssi": int_field(rssi),
    }
    return line("status", tags, fields, ts)


def heartbeat(device: str, role: str, start: int, end: int, every_s: int = 300) -> Iterator[str]:
    """The periodic health status of an online node, its figures drifting a little."""
    for n, ts in enumerate(range(start, end, every_s * 1000)):
        yield status(device, ts, role, up=n * every_s, heap=90_000 - (n % 7) * 1000,
                     outbox=n % 5, reconnects=n // 50, rssi=-60 - n % 9)


def inside(spans: Sequence[tuple[int, int]], ts: int) -> bool:
    """Whether `ts` falls in one of the [start, end) spans, sorted and not overlapping."""
    k = bisect.bisect_right(spans, (ts, math.inf)) - 1
    return k >= 0 and spans[k][0] <= ts < spans[k][1]


def telemetry(device: str, ts: int, seq: int, counters: dict[str, int],
              readings: dict[str, float]) -> str:
    fields = {k: int_field(v) for k, v in counters.items()}
    fields.update({k: float_field(round(v, 2)) for k, v in readings.items()})
    fields["seq"] = int_field(seq)
    fields["tq"] = int_field(1)
    return line("telemetry", tag_suffix(("site", SITE), ("device", device)), fields, ts)


def event(device: str, ts: int, seq: int, kind: str, sid: int) -> str:
    tags = tag_suffix(("site", SITE), ("device", device), ("kind", kind))
    fields = {"seq": int_field(seq), "sid": int_field(sid),
              "badge": string_field("0123456789abcdef")}
    return line("event", tags, fields, ts)


def outside_c(ts: int) -> float:
    hour = (ts % DAY_MS) / HOUR_MS
    return 4.0 + 4.0 * math.sin((hour - 9) / 24 * 2 * math.pi)


@dataclass
class Heating:
    """Boiler + pump + zones. The thermostat in zone 1 calls 06-19 on weekdays
    for 20 °C, otherwise for 15 °C; a failed burner leaves the pump running.
    Further zones follow zone 1, each half a degree cooler than the one before.
    In the `thermostat_off` spans it does not call at all (turned down, a timer)."""

    device: str = "boiler1"
    failed: list[tuple[int, int]] = field(default_factory=list)  # [start, end) in ms
    thermostat_off: list[tuple[int, int]] = field(default_factory=list)  # [start, end) in ms
    seed: int = 1
    zones: int = 1

    def series(self, start: int, end: int, step_s: int = 10) -> Iterator[str]:
        rnd = random.Random(self.seed)
        failed, off = sorted(self.failed), sorted(self.thermostat_off)
        zone, flow, ret, burn_s, call = 18.0, 30.0, 29.0, 0, False
        yield status(self.device, start - 1000, "heating")
        for seq, ts in enumerate(range(start, end, step_s * 1000)):
            local = datetime.fromtimestamp(ts / 1000, UTC)
            day_mode = local.weekday() < 5 and 6 <= local.hour < 19
            setpoint = 20.0 if day_mode else 15.0
            if zone < setpoint - 0.3:
                call = True
            elif zone > setpoint + 0.3:
                call = False
            call = call and not inside(off, ts)
            burner = call and not inside(failed, ts)
            if burner:
                flow += (70.0 - flow) * (1 - math.exp(-step_s / 240))
                burn_s += step_s
            elif call:  # pump runs through cold radiators
                flow += (zone - flow) * (1 - math.exp(-step_s / 400))
            else:
                flow += (zone + 2 - flow) * (1 - math.exp(-step_s / 1800))
            target = zone + 0.55 * (flow - zone) if call else flow - 1.0
            ret += (target - ret) * (1 - math.exp(-step_s / 120))
            heat = 9.2e-5 * (flow - zone) if call else 0.0
            zone += step_s * (heat - 4.6e-5 * (zone - outside_c(ts)))
            readings = {
                "t_flow": flow + rnd.gauss(0, 0.05),
                "t_return": ret + rnd.gauss(0, 0.05),
                "t_zone1": zone + rnd.gauss(0, 0.05),
                "call": 1.0 if call else 0.0,
            }
            for k in range(2, self.zones + 1):
                readings[f"t_zone{k}"] = zone - 0.5 * (k - 1) + rnd.gauss(0, 0.05)
            yield telemetry(self.device, ts, seq, {"burn_s": burn_s}, readings)


@dataclass
class Machine:
    """A machine node: idle standby, sessions with the interlock closed, and
    optionally power with no session (left on) or with the relay open (welded)."""

    device: str = "laser1"
    sessions: list[tuple[int, int]] = field(default_factory=list)
    unattended: list[tuple[int, int]] = field(default_factory=list)  # power, no session
    has_relay: bool = True
    running_w: float = 1500.0
    seed: int = 2

    def series(self, start: int, end: int, step_s: int = 10) -> Iterator[str]:
        rnd = random.Random(self.seed)
        yield status(self.device, start - 1000, "machine")
        seq = 0
        events: list[tuple[int, str, int]] = []
        for sid, (a, b) in enumerate(self.sessions, start=1):
            events += [(a, "session_start", sid), (b, "session_end", sid)]
        for ts, kind, sid in sorted(events):
            if start <= ts < end:
                seq += 1
                yield event(self.device, ts, seq, kind, sid)
        wh, on_s = 0.0, 0
        sessions, unattended = sorted(self.sessions), sorted(self.unattended)
        for n, ts in enumerate(range(start, end, step_s * 1000)):
            in_session = inside(sessions, ts)
            powered = in_session or inside(unattended, ts)
            w = self.running_w + rnd.gauss(0, 20) if powered else 3.0 + rnd.gauss(0, 0.3)
            wh += w * step_s / 3600
            on_s += step_s if powered else 0
            readings = {"w": w, "a": w / 230, "running": 1.0 if powered else 0.0}
            if self.has_relay:
                readings["relay"] = 1.0 if in_session else 0.0
            yield telemetry(self.device, ts, n, {"wh": int(wh), "on_s": on_s}, readings)


@dataclass
class Meter:
    """The building's utility meter: a steady night base load, busy days."""

    device: str = "meter1"
    night_w: float = 800.0
    extra: list[tuple[int, int, float]] = field(default_factory=list)  # [start, end), +W
    seed: int = 3

    def series(self, start: int, end: int, step_s: int = 10) -> Iterator[str]:
        rnd = random.Random(self.seed)
        yield status(self.device, start - 1000, "meter")
        wh = 0.0
        for n, ts in enumerate(range(start, end, step_s * 1000)):
            hour = (ts % DAY_MS) // HOUR_MS
            w = self.night_w + (4000.0 if 7 <= hour < 20 else 0.0) + rnd.gauss(0, 40)
            w += sum(x for a, b, x in self.extra if a <= ts < b)
            wh += w * step_s / 3600
            yield telemetry(self.device, ts, n, {"wh": int(wh), "pulses": int(wh)}, {"w": w})
