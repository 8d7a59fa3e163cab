"""A boiler fails at a known time in a simulated heating system: exactly one
heating alert, within the rule's window + 60 s, delivered by webhook, e-mail
and MQTT to real local receivers; resolved after the boiler recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import RulesConfig
from alerts.delivery import EmailChannel, MqttChannel, WebhookChannel
from alerts.models import Alert
from alerts.runner import AlertService
from bench.synthetic import SITE, Heating, ms
from devservers import InfluxDB, Mosquitto
from tests.alerts.receivers import MqttReceiver, SmtpReceiver, WebhookReceiver
from tests.alerts.stepping import MINUTE, moments
from tests.conftest import TEST_PASSWORD, TEST_USER


async def test_boiler_failure_one_alert_delivered_and_resolved(
    influxdb: InfluxDB,
    mosquitto: Mosquitto,
    sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    config = RulesConfig()
    window = config.heating.rise_window_s * 1000
    start, fail = ms("2026-11-02T00:00"), ms("2026-11-02T07:00")  # a Monday, boiler calling
    recover, end = ms("2026-11-02T08:30"), ms("2026-11-02T09:30")
    influxdb.write(Heating(failed=[(fail, recover)]).series(start, end))

    with (
        WebhookReceiver() as hook,
        SmtpReceiver() as smtp,
        MqttReceiver(mosquitto.host, mosquitto.port, TEST_USER, TEST_PASSWORD, "mf-alerts/#") as mq,
    ):
        service = make_service([
            WebhookChannel("webhook:ops", hook.url, ntfy_topic="heating"),
            EmailChannel("127.0.0.1", smtp.port, "monitor@workshop.test", ["coord@workshop.test"]),
            MqttChannel(mosquitto.login(TEST_USER)),
        ])
        service.dispatcher.start()
        first_heating: int | None = None
        fired_wall: float | None = None
        try:
            fine = [(fail - 5 * MINUTE, fail + window + 2 * MINUTE),
                    (recover, recover + 20 * MINUTE)]
            for now in moments(ms("2026-11-02T05:00"), end, fine):
                found, ids = await asyncio.to_thread(service.evaluate_once, now)
                if ids and fired_wall is None:
                    fired_wall = time.monotonic()
                service.dispatcher.submit(ids)
                heating = [f for f in found if f.kind == "heating"]
                if heating and first_heating is None:
                    first_heating = now
                    await service.dispatcher.idle()
                    with sessions() as session:
                        alerts = list(session.scalars(select(Alert)))
                        assert len(alerts) == 1, [a.summary for a in alerts]
                        alert = alerts[0]
                        assert alert.state == "notified", alert.state
            await service.dispatcher.idle()
        finally:
            await service.dispatcher.stop()

        assert first_heating is not None, "the failure raised no heating finding"
        assert fail < first_heating <= fail + window + MINUTE, (first_heating - fail) / 1000

        with sessions() as session:
            stored = list(session.scalars(select(Alert)))
        assert [a.kind for a in stored] == ["heating"], [a.summary for a in stored]
        alert = stored[0]
        assert alert.device == "boiler1" and alert.severity == "critical"
        assert alert.occurrences > 1  # it kept firing and stayed one alert
        assert alert.state == "resolved" and alert.resolved_at is not None
        resolved_ms = int(alert.resolved_at.timestamp() * 1000)
        assert recover < resolved_ms <= recover + 10 * MINUTE
        flows = [row["t_flow"] for row in alert.evidence if row.get("t_flow") is not None]
        assert flows
        assert all(fail - window <= row["time"] <= first_heating for row in alert.evidence)

        events = [body["alert"]["event"] for _, _, body in hook.received]
        assert events == ["fired", "resolved"]
        body = hook.received[0][2]
        assert body["topic"] == "heating" and body["priority"] == 5
        assert "heating failure" in body["text"] and body["alert"]["kind"] == "heating"
        assert len(smtp.received) == 2
        subjects = [mail["Subject"] for _, mail in smtp.received]
        assert "CRITICAL" in subjects[0] and "RESOLVED" in subjects[1]
        assert "t_flow" in smtp.received[0][1].get_payload()
        assert [(topic, b["event"]) for _, topic, b in mq.received] == [
            (f"mf-alerts/{SITE}", "fired"), (f"mf-alerts/{SITE}", "resolved"),
        ]
        assert fired_wall is not None
        assert max(hook.received[0][0], smtp.received[0][0], mq.received[0][0]) - fired_wall < 5


async def test_thermostat_cycling_during_a_failure_stays_one_alert(
    influxdb: InfluxDB,
    sessions: sessionmaker[Session],
    make_service: Callable[..., AlertService],
) -> None:
    """The thermostat is turned off and on again several times while the boiler
    is broken: still one alert, paged once, resolved when the flow rises at the
    first call after the repair (done while it was off), not when a call stops.
    A second failure later the same day is a second alert."""
    config = RulesConfig()
    window = config.heating.rise_window_s * 1000
    start, end = ms("2026-11-02T00:00"), ms("2026-11-02T14:00")  # a Monday
    fail_a, repair_a = ms("2026-11-02T07:00"), ms("2026-11-02T09:20")
    fail_b, repair_b = ms("2026-11-02T11:00"), ms("2026-11-02T12:30")
    off = [(ms("2026-11-02T07:30"), ms("2026-11-02T07:50")),
           (ms("2026-11-02T08:15"), ms("2026-11-02T08:35")),
           (ms("2026-11-02T09:05"), ms("2026-11-02T09:40")),  # repaired in here
           (ms("2026-11-02T11:30"), ms("2026-11-02T11:45"))]
    asked_again = off[2][1]
    influxdb.write(Heating(failed=[(fail_a, repair_a), (fail_b, repair_b)],
                           thermostat_off=off).series(start, end))

    with WebhookReceiver() as hook:
        service = make_service([WebhookChannel("webhook:ops", hook.url)])
        service.dispatcher.start()
        open_ids: dict[int, list[int]] = {}  # evaluation time -> open heating alert ids
        try:
            for now in moments(ms("2026-11-02T06:30"), end,
                               [(fail_a, end)], fine_ms=MINUTE):
                _, ids = await asyncio.to_thread(service.evaluate_once, now)
                service.dispatcher.submit(ids)
                with sessions() as session:
                    open_ids[now] = list(session.scalars(
                        select(Alert.id).where(Alert.kind == "heating",
                                               Alert.resolved_at.is_(None))))
            await service.dispatcher.idle()
        finally:
            await service.dispatcher.stop()

    with sessions() as session:
        stored = list(session.scalars(select(Alert).order_by(Alert.id)))
    assert [(a.kind, a.state) for a in stored] == [("heating", "resolved")] * 2, (
        [(a.summary, a.fired_at, a.resolved_at) for a in stored])
    first, second = stored
    fired = [int(a.fired_at.timestamp() * 1000) for a in stored]
    resolved = [int(a.resolved_at.timestamp() * 1000) for a in stored if a.resolved_at]
    assert fail_a < fired[0] <= fail_a + window + MINUTE
    # Open through every off span of the first failure, the one it was repaired in too.
    for a, b in off[:3]:
        held = {tuple(ids) for now, ids in open_ids.items() if a <= now < b}
        assert held == {(first.id,)}, (a, held)
    # Cleared by the flow rising at the next call after the repair, within the window.
    assert asked_again < resolved[0] <= asked_again + window, (resolved[0] - asked_again) / 1000
    assert first.occurrences > 3  # it fired again after each call restarted, and stayed one
    assert fail_b < fired[1] <= fail_b + window + MINUTE
    assert repair_b < resolved[1] <= repair_b + 10 * MINUTE
    assert second.occurrences > 1
    events = [(body["alert"]["id"], body["alert"]["event"]) for _, _, body in hook.received]
    assert events == [(first.id, "fired"), (first.id, "resolved"),
                      (second.id, "fired"), (second.id, "resolved")]
