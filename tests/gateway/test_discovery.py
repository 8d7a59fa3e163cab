"""Home Assistant discovery: one retained sensor config per counter and
reading of each device, published once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import connect, publish_all, wait_until
from tests.gateway.streams import telemetry_stream


class Watcher:
    def __init__(self, broker: Mosquitto, name: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.client = connect(broker, client_id=name)
        self.client.on_message = self.on_message
        self.client.subscribe("homeassistant/#", qos=1)

    def on_message(self, c: mqtt.Client, u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_each_counter_and_reading_is_announced_once_and_retained(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    expected = sorted(
        f"homeassistant/sensor/mf_lab_{d}_{n}/config"
        for d in ("node1", "node2") for n in ("wh", "on_s", "w")
    )
    live = Watcher(mosquitto, "ha-live")
    gw = GatewayProcess(tmp_path / "gw", mosquitto, influxdb, mqtt_username=GATEWAY_USER,
                        mqtt_password=GATEWAY_PASSWORD, ha_discovery=True)
    gw.start()
    try:
        # 10 messages per device, each with the counters wh, on_s and the reading w.
        publish_all(mosquitto, telemetry_stream(20, devices=2))
        wait_until(lambda: influxdb.count("telemetry", "seq") == 20, 10, "20 points")
        wait_until(lambda: len(live.messages) >= 6, 10, "6 sensor configs")
    finally:
        gw.close()
        live.close()
    assert sorted(m.topic for m in live.messages) == expected  # each exactly once

    late = Watcher(mosquitto, "ha-late")  # Home Assistant started later
    wait_until(lambda: len(late.messages) >= 6, 10, "the retained configs")
    late.close()
    assert all(m.retain for m in late.messages)
    configs = {m.topic: json.loads(m.payload) for m in late.messages}
    assert sorted(configs) == expected
    energy = configs["homeassistant/sensor/mf_lab_node1_wh/config"]
    assert energy["state_topic"] == "mf/lab/node1/telemetry"
    assert energy["value_template"] == "{{ value_json.ct.wh }}"
    assert (energy["device_class"], energy["unit_of_measurement"], energy["state_class"]) == (
        "energy", "Wh", "total_increasing")
    power = configs["homeassistant/sensor/mf_lab_node2_w/config"]
    assert power["value_template"] == "{{ value_json.rd.w }}"
    assert power["availability_topic"] == "mf/lab/node2/status"
