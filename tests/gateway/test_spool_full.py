"""A full spool while InfluxDB is down, on a real Mosquitto and InfluxDB: the
gateway stops acknowledging (the broker keeps the messages in its session),
says so (metric, log line, retained status), and once InfluxDB is back every
message arrives exactly once. Stopped while full, it leaves the rest with
the broker and finds it at the next start."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import connect, publish_all, wait_until
from tests.gateway.streams import telemetry_stream

SENT = 3000
# ~95-byte lines in batches of 100: three batches fill it.
SPOOL_MAX_BYTES = 30_000
# Messages the broker may have in flight to the gateway, unacknowledged.
IN_FLIGHT = 500


class StatusWatcher:
    """The gateway's retained status topic, as a subscriber sees it."""

    def __init__(self, broker: Mosquitto, client_id: str) -> None:
        self.states: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = connect(broker, client_id="status-watcher")
        self.client.on_message = self._on_message
        self.client.subscribe(wire.gateway_status_topic(client_id), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.states.append(json.loads(message.payload))

    def seen(self, state: str) -> bool:
        with self._lock:
            return any(s["state"] == state for s in self.states)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> GatewayProcess:
    return GatewayProcess(
        tmp_path / "gw", mosquitto, influxdb, mqtt_username=GATEWAY_USER,
        mqtt_password=GATEWAY_PASSWORD, batch_interval_s=0.05, batch_size=100,
        spool_max_bytes=SPOOL_MAX_BYTES, receive_maximum=IN_FLIGHT,
    )


def wait_until_full(gateway: GatewayProcess) -> float:
    """Once full, acknowledgements stay where they are; returns that count."""
    wait_until(lambda: gateway.metric("gateway_spool_full") == 1, 30, "the spool full")
    acked = gateway.metric("gateway_acked_total")
    assert acked is not None
    time.sleep(2)
    assert gateway.metric("gateway_acked_total") == acked
    return acked


def test_a_full_spool_pauses_acknowledgements_and_nothing_is_lost(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gateway = make_gateway(tmp_path, mosquitto, influxdb)
    gateway.start()
    watcher = StatusWatcher(mosquitto, "mf-gateway")  # the default client id
    try:
        wait_until(lambda: watcher.seen("ok"), 10, "the gateway's status")
        influxdb.kill()
        assert publish_all(mosquitto, telemetry_stream(SENT)) == SENT

        acked = wait_until_full(gateway)
        spooled = gateway.metric("gateway_spooled_points_total")
        assert acked == spooled and 0 < acked < SENT  # acknowledged: only what the spool holds
        assert (gateway.metric("gateway_spool_bytes") or 0) <= SPOOL_MAX_BYTES
        # The broker holds the rest: it sends no more than its in-flight window.
        received = gateway.metric("gateway_received_total")
        assert received is not None and received <= acked + IN_FLIGHT < SENT
        wait_until(lambda: watcher.seen("spool_full"), 10, "the status saying so")
        full = next(s for s in watcher.states if s["state"] == "spool_full")
        assert full["acks"] == "paused" and full["spool_max_bytes"] == SPOOL_MAX_BYTES
        logged = [json.loads(row)["msg"] for row in gateway.log_path.read_text().splitlines()
                  if row.startswith("{")]
        assert "spool full: acknowledgements paused, the broker keeps the messages" in logged

        influxdb.start()
        wait_until(lambda: gateway.metric("gateway_acked_total") == SENT, 60, "every ack")
        assert influxdb.count("telemetry", "seq") == SENT
        per_device = influxdb.query(
            "SELECT count(distinct(seq)) FROM telemetry GROUP BY device"
        )
        assert [int(s.values[0][1]) for s in per_device] == [SENT // 4] * 4
        # Exactly once: no line was written twice on the way.
        assert gateway.metric("gateway_written_points_total") == SENT
        assert gateway.metric("gateway_received_total") == SENT
        assert gateway.metric("gateway_spool_full") == 0
        wait_until(lambda: gateway.metric("gateway_spool_batches") == 0, 10, "the spool drained")
        assert watcher.states[-1]["state"] == "ok"
        assert gateway.running
    finally:
        watcher.close()
        gateway.close()


def test_stopped_while_full_the_broker_keeps_the_rest_for_the_next_start(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gateway = make_gateway(tmp_path, mosquitto, influxdb)
    gateway.start()
    try:
        influxdb.kill()
        assert publish_all(mosquitto, telemetry_stream(SENT // 2)) == SENT // 2
        acked = wait_until_full(gateway)
        began = time.monotonic()
        gateway.stop()  # SIGTERM: the batches that fit nowhere stay unacknowledged
        assert time.monotonic() - began < 10
        assert gateway.proc is not None and gateway.proc.returncode == 0
        spooled = [f.read_bytes().count(b"\n") + 1 for f in gateway.spool_dir.glob("*.lp")]
        assert sum(spooled) == acked  # acknowledged: exactly what the spool holds

        influxdb.start()
        gateway.start()
        wait_until(lambda: influxdb.count("telemetry", "seq") == SENT // 2, 60, "all stored")
        wait_until(lambda: gateway.metric("gateway_spool_batches") == 0, 10, "the spool drained")
        # After the restart: the spool's lines plus the broker's redeliveries, once each.
        assert gateway.metric("gateway_written_points_total") == SENT // 2
    finally:
        gateway.close()
