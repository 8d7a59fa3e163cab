"""Puts the connection settings on a paho client: the one place where a
service's login to the broker is set up (and TLS, when it comes)."""

from __future__ import annotations

import paho.mqtt.client as mqtt

from broker.settings import MqttSettings


def configure(client: mqtt.Client, settings: MqttSettings) -> None:
    if settings.mqtt_username:
        # No password at all rather than an empty one: MQTT allows a user alone.
        password = settings.mqtt_password.get_secret_value() or None
        client.username_pw_set(settings.mqtt_username, password)
