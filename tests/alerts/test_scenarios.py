"""Scenarios on the real InfluxDB through the whole service (queries, rules,
lifecycle): a device unplugged and plugged back, machines left on or with a
welded interlock, a base-load anomaly, and a healthy week with no alert."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import RulesConfig
from alerts.models import Alert
from alerts.runner import AlertService
from bench.synthetic import (
    DAY_MS,
    HOUR_MS,
    Heating,
    Machine,
    Meter,
    ms,
    status,
    telemetry,
)
from devservers import InfluxDB
from tests.alerts.stepping import MINUTE, assert_silent, first, moments, step_through


def _alerts(sessions: sessionmaker[Session]) -> list[Alert]:
    with sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


async def test_unplugged_device_goes_offline_and_back(
    influxdb: InfluxDB, sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    start, unplug = ms("2026-11-03T10:00"), ms("2026-11-03T11:00")
    back, end = ms("2026-11-03T11:30"), ms("2026-11-03T12:00")
    node = Machine("laser1")
    influxdb.write(node.series(start, unplug))
    # The broker notices the lost keepalive and publishes the last will later.
    influxdb.write([status("laser1", unplug + 90_000, "", online=False)])
    influxdb.write(node.series(back, end))
    service = make_service()
    seen = await step_through(service, moments(
        start + HOUR_MS // 2, end, fine=[(unplug - MINUTE, back + 10 * MINUTE)]))
    went = first(seen, "device_offline")
    assert went is not None and unplug < went <= unplug + 3 * 10_000 + 30_000
    stored = _alerts(sessions)
    assert [(a.kind, a.device, a.state) for a in stored] == [
        ("device_offline", "laser1", "resolved")
    ]
    assert stored[0].resolved_at is not None
    resolved = int(stored[0].resolved_at.timestamp() * 1000)
    config = RulesConfig()
    quiet = config.lifecycle.resolve_after_s * 1000
    # Resolved once the condition was absent for `quiet` (counted from the last firing).
    assert back + quiet - 30_000 <= resolved <= back + quiet + MINUTE
    reasons = {f.details["reason"] for _, found in seen for f in found}
    assert reasons == {"silent", "last_will"}


async def test_machine_left_on_and_welded_relay_but_not_a_normal_session(
    influxdb: InfluxDB, sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    start, end = ms("2026-11-03T08:00"), ms("2026-11-03T13:00")
    left_on = (ms("2026-11-03T10:00"), ms("2026-11-03T11:00"))
    influxdb.write(Machine("compressor", unattended=[left_on], has_relay=False).series(start, end))
    influxdb.write(Machine("laser1", sessions=[(ms("2026-11-03T09:00"),
                                                 ms("2026-11-03T12:00"))]).series(start, end))
    welded = (ms("2026-11-03T11:30"), ms("2026-11-03T11:45"))
    influxdb.write(Machine("cnc1", unattended=[welded]).series(start, end))
    config = RulesConfig()
    left_ms = config.machines.left_on_for_s * 1000
    service = make_service()
    seen = await step_through(service, moments(
        start + HOUR_MS, end,
        fine=[(left_on[0] + left_ms - MINUTE, left_on[0] + left_ms + 2 * MINUTE),
              (welded[0], welded[0] + 3 * MINUTE)]))
    on = first(seen, "machine_left_on")
    assert on is not None and left_on[0] + left_ms <= on <= left_on[0] + left_ms + MINUTE
    fault = first(seen, "interlock_fault")
    interlock_ms = config.machines.interlock_for_s * 1000
    assert fault is not None
    assert welded[0] + interlock_ms <= fault <= welded[0] + interlock_ms + MINUTE
    stored = _alerts(sessions)
    assert sorted((a.kind, a.device, a.state) for a in stored) == [
        ("interlock_fault", "cnc1", "resolved"),
        ("machine_left_on", "compressor", "resolved"),
    ]
    assert all(f.device != "laser1" for _, found in seen for f in found)


async def test_base_load_anomaly_fires_then_resolves_after_a_normal_night(
    influxdb: InfluxDB, sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    start = ms("2026-11-01T00:00")
    bad_night = start + 6 * DAY_MS
    meter = Meter(extra=[(bad_night, bad_night + 6 * HOUR_MS, 900.0)])
    influxdb.write(meter.series(start, start + 8 * DAY_MS, step_s=60))
    service = make_service()
    at = [start + d * DAY_MS + 3 * HOUR_MS for d in range(3, 8)]
    seen = await step_through(service, at)
    fired = [now for now, found in seen if any(f.kind == "base_load" for f in found)]
    assert fired == [bad_night + 3 * HOUR_MS]
    finding = next(f for _, found in seen for f in found if f.kind == "base_load")
    assert 750 < finding.details["baseline_w"] < 850 and finding.details["mean_w"] > 1600
    stored = _alerts(sessions)
    assert [(a.kind, a.state) for a in stored] == [("base_load", "resolved")]


async def test_healthy_week_raises_no_alert(
    influxdb: InfluxDB, sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    """False-alarm test, accelerated: a week of a working building (heating
    cycling, machines used in sessions, a meter) evaluated every 20 minutes."""
    start = ms("2026-11-02T00:00")
    end = start + 7 * DAY_MS
    sessions_laser = [
        (start + d * DAY_MS + h * HOUR_MS, start + d * DAY_MS + (h + 3) * HOUR_MS)
        for d in range(5) for h in (9, 14)
    ]
    written = 0
    written += influxdb.write(Heating().series(start, end, step_s=30))
    written += influxdb.write(Machine("laser1", sessions=sessions_laser).series(start, end, 30))
    written += influxdb.write(Meter().series(start, end, step_s=30))
    assert written > 3 * 7 * 2880
    evaluations, elapsed = await assert_silent(
        make_service(), moments(start + 3 * HOUR_MS, end, coarse_ms=20 * MINUTE))
    assert evaluations > 490
    assert _alerts(sessions) == []
    print(f"healthy week: {evaluations} evaluations in {elapsed:.1f} s")


async def test_stuck_and_spiking_sensors_through_the_queries(
    influxdb: InfluxDB, sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    """A zone sensor frozen at one value for four hours and a return sensor
    that spikes to 85 °C (a DS18B20 reset) now and then; flow stays sane."""
    start, end = ms("2026-11-07T00:00"), ms("2026-11-07T04:30")  # a Saturday: no heating
    lines = [status("boiler2", start - 1000, "heating")]
    for n, ts in enumerate(range(start, end, 30_000)):
        spike = n % 40 == 20 and ts > end - 3_600_000
        lines.append(telemetry("boiler2", ts, n, {"burn_s": 0}, {
            "t_flow": 30.0 + (n % 7) * 0.06, "t_return": 85.0 if spike else 28.0 + (n % 5) * 0.06,
            "t_zone1": 21.0, "call": 0.0}))
    influxdb.write(lines)
    service = make_service()
    seen = await step_through(service, moments(start + 2 * HOUR_MS, end, coarse_ms=10 * MINUTE))
    config = RulesConfig()
    stuck_at = next(now for now, found in seen
                    if any(f.details.get("reason") == "stuck" for f in found))
    assert start + config.sensors.stuck_for_s * 1000 <= stuck_at
    assert stuck_at <= start + config.sensors.stuck_for_s * 1000 + 10 * MINUTE
    found = {(f.subject, f.details["reason"]) for f in seen[-1][1]}
    assert found == {("t_zone1", "stuck"), ("t_return", "jumping")}
    assert sorted(a.dedupe_key for a in _alerts(sessions)) == [
        "sensor_implausible:mf1:boiler2:t_return", "sensor_implausible:mf1:boiler2:t_zone1",
    ]
