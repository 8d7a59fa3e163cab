"""Delivery on real receivers: channels retry on their own, so a webhook that
hangs or refuses does not delay e-mail or MQTT; a broker that comes back gets
what was sent while it was away."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts import lifecycle
from alerts.config import LifecycleConfig
from alerts.delivery import Dispatcher, EmailChannel, MqttChannel, RetryPolicy, WebhookChannel
from alerts.delivery.message import Channel
from alerts.findings import Finding
from alerts.models import AlertDelivery
from devservers import Mosquitto, free_port
from tests.alerts.receivers import HangingServer, MqttReceiver, SmtpReceiver, WebhookReceiver
from tests.conftest import TEST_PASSWORD, TEST_USER


def _fire(sessions: sessionmaker[Session], channels: list[Channel], n: int = 1) -> list[int]:
    findings = [
        Finding(kind="heating", site="mf1", device=f"boiler{i}", summary=f"boiler{i} cold",
                severity="critical", evidence=[{"time": 1, "t_flow": 21.5}])
        for i in range(n)
    ]
    with sessions() as session:
        return lifecycle.apply(session, findings, datetime.now(UTC), LifecycleConfig(),
                               [c.name for c in channels]).deliveries


async def _until(check: object, timeout: float) -> float:
    began = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - began > timeout:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def test_dead_webhooks_do_not_delay_email_or_mqtt(
    mosquitto: Mosquitto, sessions: sessionmaker[Session]
) -> None:
    with (
        HangingServer() as hanging,
        WebhookReceiver() as live,
        SmtpReceiver() as smtp,
        MqttReceiver(mosquitto.host, mosquitto.port, TEST_USER, TEST_PASSWORD, "mf-alerts/#") as mq,
    ):
        refused_url = f"http://127.0.0.1:{free_port()}/hook"
        channels: list[Channel] = [
            WebhookChannel("webhook:hanging", hanging.url, timeout=3.0),
            WebhookChannel("webhook:refused", refused_url),
            WebhookChannel("webhook:live", live.url),
            EmailChannel("127.0.0.1", smtp.port, "monitor@workshop.test", ["c@workshop.test"]),
            MqttChannel(mosquitto.login(TEST_USER)),
        ]
        dispatcher = Dispatcher(channels, sessions, RetryPolicy(0.2, 0.5, 3))
        dispatcher.start()
        try:
            ids = _fire(sessions, channels)
            began = time.monotonic()
            dispatcher.submit(ids)
            await _until(lambda: smtp.received and mq.received and live.received, 5)
            latency = {
                "email": smtp.received[0][0] - began,
                "mqtt": mq.received[0][0] - began,
                "webhook:live": live.received[0][0] - began,
            }
            # The hanging webhook's first try alone lasts 3 s: nobody waited for it.
            assert max(latency.values()) < 1.0, latency
            await asyncio.wait_for(dispatcher.idle(), 30)
        finally:
            await dispatcher.stop()
    with sessions() as session:
        rows = {d.channel: d for d in session.scalars(select(AlertDelivery))}
    assert {c: (rows[c].status, rows[c].attempts) for c in rows} == {
        "webhook:hanging": ("failed", 3),
        "webhook:refused": ("failed", 3),
        "webhook:live": ("sent", 1),
        "email": ("sent", 1),
        "mqtt": ("sent", 1),
    }
    assert "Timeout" in (rows["webhook:hanging"].last_error or "")
    print("delivery latency with two dead webhooks:", {k: round(v, 3) for k, v in latency.items()})


async def test_webhook_retries_until_the_receiver_accepts(sessions: sessionmaker[Session]) -> None:
    with WebhookReceiver(status=503) as hook:
        channel = WebhookChannel("webhook:flaky", hook.url)
        dispatcher = Dispatcher([channel], sessions, RetryPolicy(0.2, 0.5, 10))
        dispatcher.start()
        try:
            dispatcher.submit(_fire(sessions, [channel]))
            await _until(lambda: len(hook.received) >= 2, 5)
            hook.status = 200
            await asyncio.wait_for(dispatcher.idle(), 10)
        finally:
            await dispatcher.stop()
    with sessions() as session:
        delivery = session.scalars(select(AlertDelivery)).one()
        assert delivery.status == "sent" and delivery.attempts == len(hook.received) >= 3
        assert delivery.alert.state == "notified"


async def test_mqtt_alerts_sent_while_the_broker_is_down_arrive_after_restart(
    mosquitto: Mosquitto, sessions: sessionmaker[Session]
) -> None:
    with MqttReceiver(mosquitto.host, mosquitto.port, TEST_USER, TEST_PASSWORD,
                      "mf-alerts/#") as mq:
        channel = MqttChannel(mosquitto.login(TEST_USER), timeout=2.0)
        dispatcher = Dispatcher([channel], sessions, RetryPolicy(0.3, 0.6, 40))
        dispatcher.start()
        try:
            # A stop (not SIGKILL): the broker then saves the receiver's persistent
            # session for sure, which is the receiver's business, not the alerts'.
            mosquitto.stop()
            mq.subscribed.clear()
            sent = _fire(sessions, [channel], n=3)
            dispatcher.submit(sent)
            await asyncio.sleep(1.5)
            assert mq.received == []
            mosquitto.start()
            await _until(mq.subscribed.is_set, 10)
            await asyncio.wait_for(dispatcher.idle(), 30)
        finally:
            await dispatcher.stop()
        await _until(lambda: len(mq.received) >= 3, 5)
    assert sorted(body["device"] for _, _, body in mq.received) == ["boiler0", "boiler1", "boiler2"]
    with sessions() as session:
        rows = list(session.scalars(select(AlertDelivery)))
    assert len(rows) == len(sent) == 3
    assert all(r.status == "sent" for r in rows) and max(r.attempts for r in rows) > 1
