"""MQTT: the alert as JSON on `mf-alerts/<site>` (`mf-alerts` for the server's
own, e.g. a gateway's full spool) at QoS 1, for Home Assistant, Node-RED or a
sign in the corridor."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as mqtt

from alerts.delivery.message import Message
from broker import MqttSettings, configure
from broker.accounts import ALERTS_PREFIX


class MqttChannel:
    def __init__(
        self,
        broker: MqttSettings,
        prefix: str = ALERTS_PREFIX,
        timeout: float = 10.0,
        name: str = "mqtt",
    ) -> None:
        self.name = name
        self.broker, self.prefix, self.timeout = broker, prefix, timeout
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def topic(self, site: str) -> str:
        """`<prefix>/<site>`; the server's own alerts (a gateway's) have no site."""
        return f"{self.prefix}/{site}" if site else self.prefix

    def _connected(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self.close()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        configure(client, self.broker)
        ready = threading.Event()
        client.on_connect = lambda c, u, flags, reason, props: ready.set()
        host, port = self.broker.mqtt_host, self.broker.mqtt_port
        client.connect(host, port, keepalive=30)
        client.loop_start()
        if not ready.wait(self.timeout) or not client.is_connected():
            client.loop_stop()
            client.disconnect()
            raise ConnectionError(f"MQTT broker {host}:{port} refused or timed out")
        self._client = client
        return client

    def send(self, message: Message) -> None:
        with self._lock:
            client = self._connected()
            payload = json.dumps({"title": message.title, "text": message.text, **message.alert})
            info = client.publish(self.topic(message.site), payload, qos=1)
            info.wait_for_publish(self.timeout)
            if not info.is_published():
                self.close()
                raise TimeoutError("MQTT broker did not acknowledge the alert")

    def close(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
