"""broker.configure puts a service's login on a paho client, checked by a real
Mosquitto that refuses anonymous and wrong logins."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from pydantic import SecretStr

from broker import MqttSettings, configure
from devservers import Mosquitto
from tests.conftest import TEST_USER


def connect(settings: MqttSettings) -> str:
    """The broker's answer to a CONNECT with these settings."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    configure(client, settings)
    answered = threading.Event()
    reasons: list[str] = []

    def on_connect(c: mqtt.Client, u: object, flags: object, reason: object, p: object) -> None:
        reasons.append(str(reason))
        answered.set()

    client.on_connect = on_connect
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return reasons[0]


def test_the_login_is_the_settings_one(mosquitto: Mosquitto) -> None:
    good = mosquitto.login(TEST_USER)
    assert connect(good) == "Success"
    wrong = good.model_copy(update={"mqtt_password": SecretStr("wrong")})
    assert connect(wrong) in ("Bad user name or password", "Not authorized")
    anonymous = good.model_copy(update={"mqtt_username": ""})
    assert connect(anonymous) == "Not authorized"
