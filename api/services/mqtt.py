"""The api's connection to the broker: QoS 1 publishes, confirmed, and a read
of what the broker holds retained (for the ACL sweep)."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from broker import MqttSettings, configure
from broker.client import Connection
from protocol import wire

log = logging.getLogger(__name__)
# Where a retained read sends its end marker to itself: the api's broker login
# needs readwrite here, and read on the topics it reads.
MARKER_PREFIX = wire.API_PREFIX + "/marker"


class PublishError(RuntimeError):
    """The broker did not confirm the message in time."""


class Publisher(Protocol):
    def publish_retained(self, topic: str, payload: bytes) -> None: ...

    def publish(self, topic: str, payload: bytes) -> None: ...

    def retained(self, topic_filter: str) -> dict[str, bytes]: ...

    def close(self) -> None: ...


class MqttPublisher(Connection):
    """Connects on first use and reconnects when needed; each publish waits
    for the broker's PUBACK, so a return means the broker holds the message."""

    def __init__(self, broker: MqttSettings, timeout_s: float = 5.0) -> None:
        super().__init__(broker, timeout_s)
        self._broker = broker

    def _ensure_connected(self) -> None:
        if self._client.is_connected():
            return
        try:
            if not self._started:
                self._open()
            else:
                self._client.reconnect()
        except OSError as exc:
            raise PublishError(f"broker {self.host}:{self.port} unreachable: {exc}") from exc
        connected = threading.Event()
        for _ in range(int(self.timeout_s / 0.01)):
            if self._client.is_connected():
                connected.set()
                break
            connected.wait(0.01)
        if not connected.is_set():
            raise PublishError(f"broker {self.host}:{self.port} did not accept the connection")

    def publish_retained(self, topic: str, payload: bytes) -> None:
        self._publish(topic, payload, retain=True)

    def publish(self, topic: str, payload: bytes) -> None:
        """Not retained: a command is for the node connected now, never replayed later."""
        self._publish(topic, payload, retain=False)

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        with self._lock:
            self._ensure_connected()
            info = self._client.publish(topic, payload, qos=1, retain=retain)
            try:
                info.wait_for_publish(self.timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise PublishError(f"publish to {topic} failed: {exc}") from exc
            if not info.is_published():
                raise PublishError(f"broker did not confirm {topic} within {self.timeout_s} s")

    def retained(self, topic_filter: str) -> dict[str, bytes]:
        """topic -> payload of every retained message under topic_filter.
        MQTT has no end-of-retained signal, so a session of its own
        subscribes, then sends itself a marker: the broker delivers one
        client's messages in order, so once the marker is back every retained
        message is in. PublishError when the broker refuses or never answers
        (then nothing is known, and nothing should be repaired on a guess)."""
        client_id = f"api-read-{uuid.uuid4().hex[:12]}"
        marker = f"{MARKER_PREFIX}/{client_id}"
        held: dict[str, bytes] = {}
        lock = threading.Lock()
        events = {"subscribed": threading.Event(), "marker": threading.Event()}
        refused: list[str] = []

        def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
            with lock:
                if message.topic == marker:
                    events["marker"].set()
                elif message.payload:  # retained, or published since: the newest counts
                    held[message.topic] = bytes(message.payload)
                else:
                    held.pop(message.topic, None)  # a retained message cleared

        def on_subscribe(_c: Any, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
            refused.extend(str(code) for code in codes if code.is_failure)
            events["subscribed"].set()

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        configure(client, self._broker)
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"broker {self.host}:{self.port} unreachable: {exc}") from exc
        client.loop_start()
        try:
            client.subscribe([(topic_filter, 1), (marker, 1)])
            if not events["subscribed"].wait(self.timeout_s) or refused:
                raise PublishError(f"the broker refused to let the api read {topic_filter}")
            client.publish(marker, b"end", qos=1)
            if not events["marker"].wait(self.timeout_s):
                raise PublishError(
                    f"no end marker back on {marker} within {self.timeout_s} s: the api's "
                    f"broker login needs readwrite on {MARKER_PREFIX}/#"
                )
            with lock:
                return dict(held)
        finally:
            client.disconnect()
            client.loop_stop()
