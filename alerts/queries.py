"""The InfluxQL behind one evaluation: what the rules need, fetched once and
grouped by (site, device). Every query has explicit time bounds so that an
evaluation at a chosen `now` is repeatable."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from alerts.config import RulesConfig
from alerts.findings import Row
from alerts.rules.machines import Sessions
from alerts.rules.offline import Liveness
from alerts.rules.series import DeviceKey
from timeseries import InfluxClient, Series, quote_string, time_range

DAY_MS = 86_400_000
SESSION_LOOKBACK_MS = 2 * DAY_MS


@dataclass
class Snapshot:
    now_ms: int
    roles: dict[DeviceKey, str] = field(default_factory=dict)
    liveness: dict[DeviceKey, Liveness] = field(default_factory=dict)
    telemetry: dict[DeviceKey, list[Row]] = field(default_factory=dict)
    # Temperatures only, over the longer stuck-sensor window.
    temperatures: dict[DeviceKey, list[Row]] = field(default_factory=dict)
    sessions: dict[DeviceKey, Sessions] = field(default_factory=dict)
    hourly_power: dict[DeviceKey, list[Row]] = field(default_factory=dict)


def _key(series: Series) -> DeviceKey:
    return series.tags.get("site", ""), series.tags.get("device", "")


def _last(source: InfluxClient, select: str, measurement: str, where: str) -> dict[DeviceKey, Row]:
    out: dict[DeviceKey, Row] = {}
    q = f"SELECT {select} FROM {measurement} WHERE {where} GROUP BY site, device"
    for series in source.query(q):
        if series.rows:
            out[_key(series)] = series.rows[0]
    return out


def telemetry_window_s(config: RulesConfig) -> int:
    """The longest look-back the rules on all fields need, plus slack for warm-up."""
    h, s, m = config.heating, config.sensors, config.machines
    return max(
        h.rise_window_s * 2, h.delta_window_s + h.rise_window_s, h.zone_cold_for_s + 600,
        s.jump_window_s, m.left_on_for_s + m.pause_s + 600, m.interlock_for_s + 600,
    )


def temperature_window_s(config: RulesConfig) -> int:
    """Stuck sensors need hours: fetched for the t_* fields alone, so machine
    and meter rows do not ride along for three hours every evaluation."""
    return max(config.sensors.stuck_for_s + 600, telemetry_window_s(config))


def fetch(source: InfluxClient, config: RulesConfig, now_ms: int) -> Snapshot:
    snap = Snapshot(now_ms)
    known = time_range(now_ms - config.offline.known_for_s * 1000, now_ms)
    for key, row in _last(source, 'last("role")', "status", known).items():
        snap.roles[key] = str(row["last"])
    statuses = _last(source, 'last("online")', "status", known)
    telemetry_last = _last(source, 'last("seq")', "telemetry", known)
    events_last = _last(source, 'last("seq")', "event", known)
    for key in set(statuses) | set(telemetry_last) | set(events_last):
        messages = [int(d[key]["time"]) for d in (telemetry_last, events_last) if key in d]
        status = statuses.get(key)
        snap.liveness[key] = Liveness(
            last_message_ms=max(messages) if messages else None,
            last_status_ms=int(status["time"]) if status else None,
            last_online=int(status["last"]) if status and status["last"] is not None else None,
        )

    since = now_ms - telemetry_window_s(config) * 1000
    for series in source.query(
        f"SELECT * FROM telemetry WHERE {time_range(since, now_ms)} GROUP BY site, device"
    ):
        snap.telemetry[_key(series)] = series.rows
    long_since = now_ms - temperature_window_s(config) * 1000
    for series in source.query(
        f"SELECT /^t_/ FROM telemetry WHERE {time_range(long_since, now_ms)} GROUP BY site, device"
    ):
        snap.temperatures[_key(series)] = series.rows
    _fetch_sessions(source, snap, since)
    _fetch_hourly_power(source, snap, config)
    return snap


def _fetch_sessions(source: InfluxClient, snap: Snapshot, since: int) -> None:
    is_session = "(kind = 'session_start' OR kind = 'session_end')"
    events: dict[DeviceKey, list[Row]] = defaultdict(list)
    for series in source.query(
        f'SELECT "sid", "kind" FROM event WHERE {is_session} AND '
        f"{time_range(since, snap.now_ms)} GROUP BY site, device"
    ):
        events[_key(series)].extend(series.rows)
    # Whether a session was already open when the window began: the newest
    # session event before it decides. Bounded, so that the query does not
    # read the whole event history as the database ages: a session open for
    # more than SESSION_LOOKBACK_MS is not a session (the node's timeout is
    # hours) and counts as closed.
    before: dict[DeviceKey, tuple[int, bool]] = {}
    for series in source.query(
        f'SELECT last("sid") FROM event WHERE {is_session} AND '
        f"{time_range(since - SESSION_LOOKBACK_MS, since)} GROUP BY site, device, kind"
    ):
        if not series.rows:
            continue
        key, when = _key(series), int(series.rows[0]["time"])
        opened = series.tags.get("kind") == "session_start"
        if key not in before or when > before[key][0]:
            before[key] = (when, opened)
    for key in set(events) | set(before):
        snap.sessions[key] = Sessions(events.get(key, []), before.get(key, (0, False))[1])


def _fetch_hourly_power(source: InfluxClient, snap: Snapshot, config: RulesConfig) -> None:
    meters = sorted(key for key, role in snap.roles.items() if role == "meter")
    if not meters:
        return
    days = config.base_load.learn_nights + 2
    since = (snap.now_ms // DAY_MS - days) * DAY_MS
    devices = " OR ".join(f"device = {quote_string(d)}" for d in sorted({d for _, d in meters}))
    for series in source.query(
        f'SELECT mean("w"), count("w") FROM telemetry WHERE ({devices}) AND '
        f"{time_range(since, snap.now_ms)} GROUP BY time(1h), site, device"
    ):
        key = _key(series)
        if key in meters:
            snap.hourly_power[key] = series.rows
