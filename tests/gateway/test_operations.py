"""The gateway's housekeeping on real servers: shutdown flushes, the spool
outlives a crash, liveness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.conftest import DEVICE_PASSWORD, GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until
from tests.gateway.streams import T0, telemetry_stream


def make_gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB,
                 **settings: object) -> GatewayProcess:
    return GatewayProcess(tmp_path / "gw", mosquitto, influxdb, mqtt_username=GATEWAY_USER,
                          mqtt_password=GATEWAY_PASSWORD, **settings)


@pytest.fixture
def slow_batches(tmp_path: Path, mosquitto: Mosquitto,
                 influxdb: InfluxDB) -> Iterator[GatewayProcess]:
    gw = make_gateway(tmp_path, mosquitto, influxdb, batch_interval_s=120, batch_size=100_000)
    gw.start()
    yield gw
    gw.close()


def test_sigterm_writes_the_open_batch_before_exiting(
    mosquitto: Mosquitto, influxdb: InfluxDB, slow_batches: GatewayProcess
) -> None:
    publish_all(mosquitto, telemetry_stream(50))
    wait_until(lambda: slow_batches.metric("gateway_received_total") == 50, 10, "50 received")
    assert influxdb.count("telemetry", "seq") == 0  # still in the open batch
    slow_batches.stop()
    assert slow_batches.proc is not None and slow_batches.proc.returncode == 0
    assert influxdb.count("telemetry", "seq") == 50


def test_spooled_batches_outlive_a_gateway_crash(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    influxdb.kill()
    publish_all(mosquitto, telemetry_stream(300))
    wait_until(lambda: gateway.metric("gateway_spooled_points_total") == 300, 20, "300 spooled")
    assert list(gateway.spool_dir.glob("*.lp"))
    gateway.kill()
    influxdb.start()
    gateway.start()
    wait_until(lambda: influxdb.count("telemetry", "seq") == 300, 20, "the spool drained")
    wait_until(lambda: not list(gateway.spool_dir.iterdir()), 10, "an empty spool folder")


def test_liveness_from_status_last_will_and_silence(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gw = make_gateway(tmp_path, mosquitto, influxdb, liveness_timeout_s=1.5,
                      liveness_check_s=0.2, batch_interval_s=0.05)
    gw.start()
    try:
        # node3 is a real device session with a last will; its socket dies.
        node = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="node3")
        node.username_pw_set("node3", DEVICE_PASSWORD)
        node.will_set(wire.topic("lab", "node3", "status"),
                      wire.encode("status", wire.status_offline()), qos=1, retain=True)
        node.connect(mosquitto.host, mosquitto.port, keepalive=5)
        node.loop_start()
        node.publish(wire.topic("lab", "node3", "status"), wire.encode(
            "status", wire.status_online(T0, "machine", "1.0", 1, 5000)), qos=1,
            retain=True).wait_for_publish(5)
        publish_all(mosquitto, telemetry_stream(2, devices=2))
        wait_until(lambda: gw.metric("gateway_devices_online") == 3, 10, "3 devices online")

        node.loop_stop()
        sock = node.socket()
        assert sock is not None
        sock.close()  # no DISCONNECT: the broker publishes the will
        wait_until(lambda: influxdb.count("status", "online", "device = 'node3'") == 2, 20,
                   "node3's last will stored")
        offline = influxdb.query("SELECT online, state FROM status WHERE device = 'node3'")
        values = offline[0].values
        assert isinstance(values, list)
        assert [row[1:] for row in values] == [[1, "online"], [0, "offline"]]

        wait_until(lambda: influxdb.count("status", "online", "state = 'silent'") == 2, 10,
                   "node1 and node2 marked silent")
        assert gw.metric("gateway_devices_online") == 0
        publish_all(mosquitto, telemetry_stream(1, devices=2, first=2))
        wait_until(lambda: influxdb.count("status", "online", "state = 'seen'") == 1, 10,
                   "node1 seen again")
        seen = influxdb.query("SELECT online FROM status WHERE state = 'seen' GROUP BY device")
        assert seen[0].tags == {"device": "node1"}
        values = seen[0].values
        assert isinstance(values, list) and values[0][1] == 1
    finally:
        gw.close()
