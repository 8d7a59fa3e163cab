"""The gateways' retained statuses (mf-gateway/+/status), read from the broker
with the alerts' own login: the newest of each gateway, for the rule in
alerts/rules/gateway.py. Through the broker, not InfluxDB: a gateway's spool
fills when InfluxDB does not take its writes, and then the alerts cannot read
InfluxDB either."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt

from alerts.findings import Row
from broker import MqttSettings, configure
from protocol import wire

log = logging.getLogger(__name__)

TOPIC = wire.gateway_status_topic("+")


def status_row(payload: bytes | bytearray) -> Row | None:
    """A status as an evidence row ("time" from its "ts"), or None when it is
    not a JSON object with a text "state"."""
    try:
        status = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        return None
    row: Row = {"time": status.get("ts") if isinstance(status.get("ts"), int) else None}
    row.update((k, v) for k, v in status.items()
               if k != "ts" and isinstance(v, str | int | float | bool))
    return row


class GatewayWatch:
    """Subscribed from start() to stop(), reconnecting on its own. `current`
    says whether what it holds is what the broker holds now: false before the
    first subscription and while the connection is down."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self._statuses: dict[str, Row] = {}
        self._lock = threading.Lock()
        self._current = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        configure(client, settings)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    @property
    def current(self) -> bool:
        return self._current.is_set()

    def statuses(self) -> dict[str, Row]:
        with self._lock:
            return dict(self._statuses)

    def start(self) -> None:
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._current.clear()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the alerts' login: %s", reason)
            return
        client.subscribe(TOPIC, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the subscription to %s: the alerts' login needs "
                      "read on it (broker/accounts.py)", TOPIC)
            return
        self._current.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        self._current.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            gateway = wire.parse_gateway_status_topic(message.topic)
        except wire.ProtocolError:
            return
        if not message.payload:  # the retained status was cleared: a gateway removed
            with self._lock:
                self._statuses.pop(gateway, None)
            return
        row = status_row(message.payload)
        if row is None:
            log.warning("gateway status on %s is not a status: %r", message.topic,
                        message.payload[:200])
            return
        with self._lock:
            self._statuses[gateway] = row
