"""A gateway's full spool reaches the coordinator while InfluxDB is down: the
real site broker (TLS, the shipped logins), the real gateway with a small
spool, InfluxDB SIGKILLed, and `python -m alerts` as compose runs it. The
alert service cannot read InfluxDB then, so it judges the gateways alone from
their retained statuses; InfluxDB back, the spool drains and the alert
resolves. Delivered to a webhook and on MQTT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from alerts import lifecycle
from alerts.config import LifecycleConfig, RulesConfig
from alerts.findings import Finding
from alerts.gateways import GatewayWatch, status_row
from alerts.models import OPEN_STATES, Alert, Base
from alerts.rules import gateway as gateway_rule
from alerts.rules.gateway import KIND
from alerts.runner import AlertService
from devservers import InfluxDB, SiteMosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.alerts.receivers import WebhookReceiver
from tests.broker.probe import Probe
from tests.conftest import DEVICE_PASSWORD, OBSERVER, SERVICE_PASSWORDS
from tests.gateway.conftest import wait_until
from tests.gateway.streams import telemetry_stream
from timeseries import InfluxError

REPO = Path(__file__).resolve().parents[2]
SITE = "ws1"  # the site broker's (tests/conftest.py)
SENT = 3000
SPOOL_MAX_BYTES = 30_000  # three batches of 100 lines fill it
GATEWAY_ID = "mf-gateway"  # the gateway's default client id
RESOLVE_AFTER_S = 5


def publish_as_devices(broker: SiteMosquitto, messages: Iterable[tuple[str, bytes]]) -> int:
    """Each device publishes its own (the shipped broker lets it write nothing
    else), at QoS 1, waiting for every PUBACK; returns how many were sent."""
    by_device: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for topic, payload in messages:
        by_device[wire.parse_topic(topic)[1]].append((topic, payload))
    sent = 0
    for device, batch in by_device.items():
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device)
        client.username_pw_set(device, DEVICE_PASSWORD)
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        client.connect(broker.host, broker.port)
        client.loop_start()
        pending = [client.publish(topic, payload, qos=1) for topic, payload in batch]
        for info in pending:
            info.wait_for_publish(30)
            assert info.is_published()
        sent += len(pending)
        client.disconnect()
        client.loop_stop()
    return sent


def alerts_env(tmp_path: Path, broker: SiteMosquitto, influxdb: InfluxDB,
               hook: WebhookReceiver) -> dict[str, str]:
    rules = tmp_path / "rules.toml"
    rules.write_text(f"[lifecycle]\nresolve_after_s = {RESOLVE_AFTER_S}\n")
    login = broker.tls_login("alerts")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    env.update({
        "ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'workshop.db'}",
        "ALERTS_INFLUX_URL": influxdb.url,
        "ALERTS_INFLUX_DATABASE": influxdb.database,
        "ALERTS_INFLUX_USERNAME": influxdb.user,
        "ALERTS_INFLUX_PASSWORD": influxdb.password,
        "ALERTS_INFLUX_TIMEOUT_S": "5",
        "ALERTS_INTERVAL_S": "1",
        "ALERTS_RULES_FILE": str(rules),
        "ALERTS_WEBHOOKS": json.dumps([{"url": hook.url}]),
        "ALERTS_MQTT_HOST": login.mqtt_host,
        "ALERTS_MQTT_PORT": str(login.mqtt_port),
        "ALERTS_MQTT_TLS": "true",
        "ALERTS_MQTT_TLS_CA_FILE": login.mqtt_tls_ca_file,
        "ALERTS_MQTT_USERNAME": "alerts",
        "ALERTS_MQTT_PASSWORD": SERVICE_PASSWORDS["alerts"],
    })
    return env


def notices(hook: WebhookReceiver) -> list[dict[str, Any]]:
    return [body["alert"] for _, _, body in hook.received]


def test_a_full_spool_alerts_while_influxdb_is_down_and_resolves_when_it_is_back(
    tmp_path: Path, site_mosquitto: SiteMosquitto, influxdb: InfluxDB
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'workshop.db'}")
    Base.metadata.create_all(engine)
    gateway_login = site_mosquitto.tls_login("gateway")
    gateway = GatewayProcess(
        tmp_path / "gw", site_mosquitto, influxdb, mqtt_username="gateway",
        mqtt_password=SERVICE_PASSWORDS["gateway"], mqtt_port=gateway_login.mqtt_port,
        mqtt_tls=True, mqtt_tls_ca_file=gateway_login.mqtt_tls_ca_file,
        batch_interval_s=0.05, batch_size=100, spool_max_bytes=SPOOL_MAX_BYTES,
        receive_maximum=500,
    )
    gateway.start()
    with WebhookReceiver() as hook, Probe(site_mosquitto.tls_login(OBSERVER)) as observer:
        assert observer.connect().value == 0 and observer.subscribe("mf-alerts/#")
        proc = subprocess.Popen([sys.executable, "-m", "alerts"], cwd=REPO,
                                env=alerts_env(tmp_path, site_mosquitto, influxdb, hook),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(3)  # passes with InfluxDB up and the gateway's status "ok"
            assert notices(hook) == []

            influxdb.kill()
            assert publish_as_devices(site_mosquitto, telemetry_stream(SENT, site=SITE)) == SENT
            wait_until(lambda: gateway.metric("gateway_spool_full") == 1, 60, "the spool full")
            wait_until(lambda: len(hook.received) >= 1, 30, "the alert at the webhook")
            fired = notices(hook)[0]
            assert influxdb.proc is None or influxdb.proc.poll() is not None  # still down
            assert (fired["event"], fired["kind"]) == ("fired", KIND)
            assert fired["dedupe_key"] == f"{KIND}:{GATEWAY_ID}"
            assert fired["device"] == GATEWAY_ID and fired["severity"] == "critical"
            status = fired["evidence"][0]
            assert status["state"] == wire.GATEWAY_SPOOL_FULL and status["acks"] == "paused"
            assert status["spool_max_bytes"] == SPOOL_MAX_BYTES
            assert hook.received[0][2]["title"] == f"[CRITICAL] gateway spool full at {GATEWAY_ID}"
            on_mqtt = [(topic, json.loads(payload)) for topic, payload in observer.received()]
            assert [(t, m["event"], m["dedupe_key"]) for t, m in on_mqtt] == [
                ("mf-alerts", "fired", f"{KIND}:{GATEWAY_ID}")]

            influxdb.start()
            wait_until(lambda: gateway.metric("gateway_acked_total") == SENT, 60, "every ack")
            wait_until(lambda: len(hook.received) >= 2, 30 + RESOLVE_AFTER_S, "the resolution")
            assert influxdb.count("telemetry", "seq") == SENT
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)
            gateway.close()
        on_mqtt = [(topic, json.loads(payload)["event"]) for topic, payload in observer.received()]
    assert proc.returncode == 0, output
    assert "evaluation skipped" in output  # the rules on stored data could not run
    # One alert, paged once and resolved once, and nothing else.
    assert [(a["event"], a["kind"]) for a in notices(hook)] == [("fired", KIND), ("resolved", KIND)]
    assert on_mqtt == [("mf-alerts", "resolved")]
    with Session(engine) as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.state == "resolved" and alert.dedupe_key == f"{KIND}:{GATEWAY_ID}"
    # Its states, written by the passes that reached InfluxDB once it was back.
    states = influxdb.query(f"SELECT \"state\", \"open\" FROM \"alert\" WHERE \"kind\" = '{KIND}'",
                            influxdb.alerts_database)
    assert states and [v[1:] for v in states[0].values][-1] == ["resolved", 0]


def _open_alerts(service: AlertService) -> dict[str, str]:
    with service.sessions() as session:
        return {a.dedupe_key: a.state for a in session.scalars(
            select(Alert).where(Alert.state.in_(OPEN_STATES)))}


def _retain_status(broker: SiteMosquitto, state: str) -> None:
    """What the gateway publishes, as its own login."""
    with Probe(broker.tls_login("gateway")) as gateway:
        assert gateway.connect().value == 0
        status = {"state": state, "spool_bytes": 1, "spool_max_bytes": 2, "ts": 1}
        assert gateway.publish(wire.gateway_status_topic("gw-2"), json.dumps(status).encode(),
                               retain=True)


def test_what_cannot_be_judged_is_held(
    site_mosquitto: SiteMosquitto, influxdb: InfluxDB, make_service: Callable[..., AlertService]
) -> None:
    """InfluxDB down: the alerts on stored data stay open however long it
    lasts (their condition cannot be seen). The broker out of reach: a
    gateway's alert stays open too, until its status is known again."""
    service = make_service(config=RulesConfig(lifecycle=LifecycleConfig(resolve_after_s=60)))
    t0 = int(time.time() * 1000)
    heating = Finding(kind="heating", site=SITE, device="boiler1", summary="flow stays cold")
    with service.sessions() as session:
        lifecycle.apply(session, [heating], datetime.fromtimestamp(t0 / 1000, UTC),
                        service.config.lifecycle, [])
    _retain_status(site_mosquitto, wire.GATEWAY_SPOOL_FULL)
    service.gateways = watch = GatewayWatch(site_mosquitto.tls_login("alerts"))
    watch.start()
    try:
        wait_until(lambda: "gw-2" in watch.statuses(), 10, "the retained status")
        influxdb.kill()
        with pytest.raises(InfluxError):
            service.evaluate_once(t0 + 3_600_000)
        found, _ = service.evaluate_gateways(t0 + 3_600_000)
        assert [f.dedupe_key for f in found] == [f"{KIND}:gw-2"]
        assert set(_open_alerts(service)) == {heating.dedupe_key, f"{KIND}:gw-2"}
    finally:
        watch.stop()

    site_mosquitto.stop()
    service.gateways = restarted = GatewayWatch(site_mosquitto.tls_login("alerts"))
    restarted.start()  # as after a restart of the service: nothing known yet
    try:
        assert service.evaluate_gateways(t0 + 7_200_000)[0] == []
        assert set(_open_alerts(service)) == {heating.dedupe_key, f"{KIND}:gw-2"}
        site_mosquitto.start()
        _retain_status(site_mosquitto, wire.GATEWAY_OK)
        wait_until(lambda: restarted.current and restarted.statuses().get("gw-2", {}).get(
            "state") == wire.GATEWAY_OK, 30, "the status known again")
        assert service.evaluate_gateways(t0 + 7_260_000)[0] == []
        assert set(_open_alerts(service)) == {heating.dedupe_key}
    finally:
        restarted.stop()


def test_a_status_is_read_only_when_it_is_one() -> None:
    assert status_row(b"not json") is None
    assert status_row(b'["spool_full"]') is None
    assert status_row(b'{"acks": "paused"}') is None
    assert status_row(b'{"state": 1}') is None
    row = status_row(b'{"state": "spool_full", "ts": 5, "spool_bytes": 9, "nested": {"a": 1}}')
    assert row == {"time": 5, "state": "spool_full", "spool_bytes": 9}
    found = gateway_rule.evaluate({"b": {"state": wire.GATEWAY_OK},
                                   "a": {"state": wire.GATEWAY_SPOOL_FULL}})
    assert [(f.dedupe_key, f.site, f.device) for f in found] == [(f"{KIND}:a", "", "a")]
    with pytest.raises(wire.ProtocolError):
        wire.parse_gateway_status_topic("mf-gateway//status")
    assert wire.parse_gateway_status_topic(wire.gateway_status_topic("gw-2")) == "gw-2"
