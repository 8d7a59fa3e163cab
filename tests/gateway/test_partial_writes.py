"""A stream with one line InfluxDB refuses (a field type conflict): every other
line is stored and only that line is dead-lettered, with its code, against the
real InfluxDB 1.6 (400 "partial write") and against a server answering as
InfluxDB 2.x's v1 /write (422, which the gateway once took for "unavailable"
and retried forever, blocking every write behind it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import Message, publish_all, wait_until
from tests.gateway.streams import T0, telemetry_stream
from tests.timeseries.influx2 import Influx2
from timeseries import InfluxClient, InfluxSettings

SENT = 2000
BAD_AT = 1234
# "x" is stored as an integer first; message BAD_AT then sends it as a reading (float).
SEED = f"telemetry,site=lab,device=seed x=1i {T0 - 1}".encode()


def stream_with_one_conflict() -> Iterator[Message]:
    for n, (topic, payload) in enumerate(telemetry_stream(SENT)):
        if n == BAD_AT:
            msg = json.loads(payload)
            msg["rd"]["x"] = 1.5
            payload = wire.encode("telemetry", msg)
        yield topic, payload


def start_gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB,
                  **settings: object) -> GatewayProcess:
    # Slow batches: the bad line arrives inside a batch of hundreds.
    gateway = GatewayProcess(tmp_path / "gw", mosquitto, influxdb, mqtt_username=GATEWAY_USER,
                             mqtt_password=GATEWAY_PASSWORD, batch_interval_s=0.5, **settings)
    gateway.start()
    return gateway


def check_only_the_bad_line_was_dead_lettered(gateway: GatewayProcess) -> None:
    wait_until(lambda: gateway.metric("gateway_acked_total") == SENT, 30, "every message acked")
    assert gateway.metric("gateway_written_points_total") == SENT - 1
    assert gateway.metric("gateway_rejected_total", reason="influx_rejected") == 1
    entries = [json.loads(row) for row in gateway.deadletter_file.read_text().splitlines()]
    assert len(entries) == 1
    [entry] = entries
    assert entry["reason"] == "influx_rejected"
    assert "field type conflict" in entry["detail"]
    # The line itself, whole: node3's seq 308 is message 1234 of the stream.
    assert entry["payload"].startswith("telemetry,site=lab,device=node3 ")
    assert "x=1.5" in entry["payload"] and "seq=308i" in entry["payload"]
    assert gateway.metric("gateway_spool_batches") == 0
    assert gateway.running


def test_influxdb_1_partial_write_stores_every_other_line(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    influxdb.client().write(SEED)
    gateway = start_gateway(tmp_path, mosquitto, influxdb)
    try:
        assert publish_all(mosquitto, stream_with_one_conflict()) == SENT
        check_only_the_bad_line_was_dead_lettered(gateway)
        assert influxdb.count("telemetry", "seq") == SENT - 1
        assert influxdb.count("telemetry", "seq", "device = 'node3' AND seq = 308") == 0
    finally:
        gateway.close()


def test_influxdb_2_answers_422_and_every_other_line_is_stored(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    with Influx2() as influx2:
        InfluxClient(InfluxSettings(influx_url=influx2.url)).write(SEED)
        gateway = start_gateway(tmp_path, mosquitto, influxdb, influx_url=influx2.url)
        try:
            assert publish_all(mosquitto, stream_with_one_conflict()) == SENT
            check_only_the_bad_line_was_dead_lettered(gateway)
            assert influx2.count("telemetry") == 1 + SENT - 1  # the seed and the good lines
            assert gateway.metric("gateway_influx_errors_total", kind="unavailable") is None
        finally:
            gateway.close()
    assert influxdb.count("telemetry", "seq") == 0  # the real one was never written
