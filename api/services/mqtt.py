"""The api's one connection to the broker: retained QoS 1 publishes, confirmed."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from broker import MqttSettings
from broker.client import Connection

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not confirm the message in time."""


class Publisher(Protocol):
    def publish_retained(self, topic: str, payload: bytes) -> None: ...

    def close(self) -> None: ...


class MqttPublisher(Connection):
    """Connects on first use and reconnects when needed; each publish waits
    for the broker's PUBACK, so a return means the broker holds the message."""

    def __init__(self, broker: MqttSettings, timeout_s: float = 5.0) -> None:
        super().__init__(broker, timeout_s)

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
        with self._lock:
            self._ensure_connected()
            info = self._client.publish(topic, payload, qos=1, retain=True)
            try:
                info.wait_for_publish(self.timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise PublishError(f"publish to {topic} failed: {exc}") from exc
            if not info.is_published():
                raise PublishError(f"broker did not confirm {topic} within {self.timeout_s} s")

