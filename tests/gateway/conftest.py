"""A gateway process between the real Mosquitto and InfluxDB of tests/conftest.py,
and a QoS 1 publisher that waits until the broker has every message."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER, TEST_PASSWORD, TEST_USER

Message = tuple[str, bytes]


@pytest.fixture
def gateway(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path / "gateway", mosquitto, influxdb,
        mqtt_username=GATEWAY_USER, mqtt_password=GATEWAY_PASSWORD,
        batch_interval_s=0.05,
    )
    process.start()
    yield process
    process.close()


def connect(broker: Mosquitto, client_id: str = "", user: str = TEST_USER,
            password: str = TEST_PASSWORD) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def publish_all(broker: Mosquitto, messages: Iterable[Message],
                on_each: Callable[[int], None] | None = None) -> int:
    """Publish at QoS 1 and wait for every PUBACK; returns how many were sent."""
    client = connect(broker)
    pending = []
    count = 0
    for count, (topic, payload) in enumerate(messages, 1):
        pending.append(client.publish(topic, payload, qos=1))
        if on_each:
            on_each(count)
    for info in pending:
        info.wait_for_publish(30)
        assert info.is_published()
    client.disconnect()
    client.loop_stop()
    return count


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
