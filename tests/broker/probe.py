"""An MQTT 5 login that asks a real broker what it allows: the CONNACK, SUBACK
and PUBACK reason codes say it (3.1.1 would drop a refused publish silently)."""

from __future__ import annotations

import queue
import threading
from types import TracebackType

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from broker import MqttSettings, configure

TIMEOUT_S = 10


class Probe:
    def __init__(self, settings: MqttSettings, client_id: str = "") -> None:
        self.settings = settings
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        configure(self.client, settings)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._answers: queue.Queue[object] = queue.Queue()
        self.disconnected = threading.Event()
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self._answers.put(reason)
        self.client.on_subscribe = lambda _c, _u, _m, reasons, _p: self._answers.put(reasons)
        self.client.on_publish = lambda _c, _u, _m, reason, _p: self._answers.put(reason)
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_disconnect = lambda *_: self.disconnected.set()

    def connect(self) -> ReasonCode:
        """The broker's answer; a refused probe is closed."""
        self.client.reconnect_delay_set(60, 60)  # one attempt: no retry behind the test's back
        self.client.connect(self.settings.mqtt_host, self.settings.mqtt_port)
        self.client.loop_start()
        reason = self._answer()
        assert isinstance(reason, ReasonCode)
        if reason.is_failure:
            self.close()
        return reason

    def subscribe(self, topic: str) -> bool:
        """True when the broker granted the subscription."""
        self.client.subscribe(topic, qos=1)
        reasons = self._answer()
        assert isinstance(reasons, list) and len(reasons) == 1
        return not reasons[0].is_failure

    def publish(self, topic: str, payload: bytes = b"probe", retain: bool = False) -> bool:
        """True when the broker accepted the message (QoS 1 PUBACK)."""
        self.client.publish(topic, payload, qos=1, retain=retain)
        reason = self._answer()
        assert isinstance(reason, ReasonCode)
        return not reason.is_failure

    def received(self, timeout: float = 2.0) -> list[tuple[str, bytes]]:
        """What arrived within `timeout` s of the first message (or of now)."""
        got: list[tuple[str, bytes]] = []
        try:
            while True:
                message = self.messages.get(timeout=timeout)
                got.append((message.topic, message.payload))
                timeout = 0.2
        except queue.Empty:
            return got

    def _answer(self) -> object:
        try:
            return self._answers.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise AssertionError("the broker did not answer") from None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
