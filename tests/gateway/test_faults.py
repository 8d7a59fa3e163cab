"""Faults while a stream flows: InfluxDB down for 30 s, the gateway SIGKILLed.
Counts of what is stored are compared with what was published."""

from __future__ import annotations

import time
from pathlib import Path

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until
from tests.gateway.streams import telemetry_stream

OUTAGE_S = 30


def per_device(influxdb: InfluxDB, expression: str) -> dict[str, int]:
    series = influxdb.query(f"SELECT {expression} FROM telemetry GROUP BY device")
    result = {}
    for s in series:
        tags, values = s.tags, s.values
        assert isinstance(tags, dict) and isinstance(values, list)
        result[tags["device"]] = int(values[0][1])
    return result


def test_influxdb_down_for_30_s_mid_stream_loses_and_doubles_nothing(
    mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    sent = publish_all(mosquitto, telemetry_stream(3000))
    wait_until(lambda: influxdb.count("telemetry", "seq") == 3000, 30, "the first 3,000")
    influxdb.kill()
    down_since = time.monotonic()
    sent += publish_all(mosquitto, telemetry_stream(4000, first=3000))
    wait_until(lambda: gateway.metric("gateway_spooled_points_total") == 4000, 30,
               "4,000 points spooled while InfluxDB is down")
    assert (gateway.metric("gateway_spool_batches") or 0) > 0
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_since)))
    influxdb.start()
    sent += publish_all(mosquitto, telemetry_stream(3000, first=7000))
    assert sent == 10_000

    wait_until(lambda: influxdb.count("telemetry", "seq") >= 10_000, 60, "all 10,000 stored")
    assert influxdb.count("telemetry", "seq") == 10_000
    assert per_device(influxdb, "count(seq)") == {f"node{d}": 2500 for d in range(1, 5)}
    assert per_device(influxdb, "count(distinct(seq))") == {f"node{d}": 2500 for d in range(1, 5)}
    wait_until(lambda: gateway.metric("gateway_spool_batches") == 0, 10, "the spool drained")
    assert list(gateway.spool_dir.iterdir()) == []
    assert gateway.running


def test_gateway_sigkilled_mid_stream_gets_everything_after_restart(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gateway = GatewayProcess(
        tmp_path / "gw", mosquitto, influxdb,
        mqtt_username=GATEWAY_USER, mqtt_password=GATEWAY_PASSWORD, batch_interval_s=0.05,
    )
    gateway.start()
    try:
        killed = []

        def kill_midway(n: int) -> None:
            if n == 2500:
                gateway.kill()
                killed.append(n)

        # Killed while messages are in flight: received, not yet acknowledged.
        sent = publish_all(mosquitto, telemetry_stream(5000), on_each=kill_midway)
        assert killed and not gateway.running
        sent += publish_all(mosquitto, telemetry_stream(3000, first=5000))
        gateway.start()
        sent += publish_all(mosquitto, telemetry_stream(2000, first=8000))
        assert sent == 10_000
        wait_until(lambda: influxdb.count("telemetry", "seq") >= 10_000, 60, "all 10,000 stored")
        assert influxdb.count("telemetry", "seq") == 10_000
        assert per_device(influxdb, "count(distinct(seq))") == {
            f"node{d}": 2500 for d in range(1, 5)
        }
    finally:
        gateway.close()


def test_broker_restart_mid_stream_the_gateway_reconnects_and_loses_nothing(
    mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    sent = publish_all(mosquitto, telemetry_stream(1000))
    mosquitto.restart()
    sent += publish_all(mosquitto, telemetry_stream(1000, first=1000))
    wait_until(lambda: influxdb.count("telemetry", "seq") >= 2000, 30, "2,000 stored")
    assert influxdb.count("telemetry", "seq") == sent == 2000
    assert gateway.running
    assert gateway.metric("gateway_subscribed") == 1
