"""Puts the connection settings on a paho client: the one place where a
service's login to the broker is set up (and TLS, when it comes); and the
connection the api's publisher and its broker-admin client share."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt

from broker.settings import MqttSettings


def configure(client: mqtt.Client, settings: MqttSettings) -> None:
    if settings.mqtt_username:
        # No password at all rather than an empty one: MQTT allows a user alone.
        password = settings.mqtt_password.get_secret_value() or None
        client.username_pw_set(settings.mqtt_username, password)


class Connection:
    """One service login's paho client, connected on first use; after that
    paho's loop keeps it connected. Subclasses say what travels over it."""

    def __init__(self, settings: MqttSettings, timeout_s: float,
                 protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311) -> None:
        self.host, self.port, self.timeout_s = settings.mqtt_host, settings.mqtt_port, timeout_s
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="",
                                   protocol=protocol)
        configure(self._client, settings)
        self._started = False

    def _open(self) -> None:
        """Connect and start paho's loop, once; OSError when nothing answers."""
        if not self._started:
            self._client.connect(self.host, self.port, keepalive=30)
            self._client.loop_start()
            self._started = True

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._client.disconnect()
                self._client.loop_stop()
                self._started = False
