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
