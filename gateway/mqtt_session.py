"""The gateway's only broker code: a persistent paho-mqtt 2 session with QoS 1,
manual acknowledgements, TCP_NODELAY and reconnects with backoff."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from broker import configure
from gateway.settings import Settings

log = logging.getLogger("gateway.mqtt")

_PUBACK = struct.Struct("!BBH")

# (topic, or None when it is not UTF-8; payload; mid; qos)
MessageHandler = Callable[[str | None, bytes, int, int], None]


def set_nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # Without it a QoS 1 round trip waits on Nagle + delayed ACK (~88 ms here).
    sock = getattr(sock, "raw", sock)
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class BufferedSocket:
    """The broker socket behind a read buffer: one recv() for many packets.

    paho reads each packet with three recv() calls (command byte, length
    bytes, body), each a syscall. Measured here, buffering cuts the receive
    CPU per message by ~9% and lifts the receive rate of a loaded machine by
    about a third. paho asks `pending()` before select(), as for TLS sockets,
    so buffered bytes are never left waiting."""

    READ_SIZE = 256 * 1024

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._buffer = b""
        self._offset = 0

    def recv(self, size: int) -> bytes:
        if self._offset >= len(self._buffer):
            self._buffer = self.raw.recv(self.READ_SIZE)  # b"" at EOF
            self._offset = 0
        chunk = self._buffer[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk

    def pending(self) -> int:
        inner = self.raw.pending() if hasattr(self.raw, "pending") else 0
        return len(self._buffer) - self._offset + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class BufferedClient(mqtt.Client):
    """paho's client reading through BufferedSocket. `_create_socket` is
    paho 2's internal seam for this (its websocket transport wraps the same
    way); were it renamed, the client would just read unbuffered."""

    # Packets handled per loop_read() while whole ones wait in the buffer:
    # paho runs one select() per packet otherwise (~10% of the gateway's CPU).
    READ_BURST = 64

    # Set by MqttSession: takes QoS 0/1 PUBLISHes without paho's MQTTMessage.
    lean_handler: MessageHandler | None = None

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def ack_all(self, mids: list[int]) -> None:
        """PUBACK every QoS 1 message of `mids` in one queued write.

        paho's ack() queues one 4-byte packet per message and wakes the
        network thread for each; a batch of 5,000 would cost 5,000 wake-ups.
        A PUBACK of 2 bytes remaining length means success in MQTT 5 too."""
        if not mids:
            return
        packet = b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids])
        self._packet_queue(mqtt.PUBACK, packet, 0, 0)

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        """QoS 0/1 PUBLISH without properties straight to `lean_handler`.

        paho builds a Properties object (~25 attribute deletions) and an
        MQTTMessage per PUBLISH: with MQTT 5 that was ~25% of the gateway's
        network thread. Anything unusual (QoS 2, properties present, a bad
        packet) takes paho's own path."""
        handler = self.lean_handler
        header = self._in_packet["command"]
        packet = self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        if handler is None or qos == 2 or len(packet) < 4:
            return super()._handle_publish()
        topic_end = 2 + ((packet[0] << 8) | packet[1])
        offset = topic_end + 2 if qos else topic_end
        if self._protocol == mqtt.MQTTv5:
            if len(packet) <= offset or packet[offset] != 0:
                return super()._handle_publish()
            offset += 1  # a properties length of zero
        if offset > len(packet) or topic_end == 2:
            return super()._handle_publish()
        mid = (packet[topic_end] << 8) | packet[topic_end + 1] if qos else 0
        try:
            topic: str | None = bytes(packet[2:topic_end]).decode()
        except UnicodeDecodeError:
            topic = None
        with self._in_callback_mutex:
            handler(topic, bytes(packet[offset:]), mid, qos)
        if qos and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(self.READ_BURST):
            sock = self.socket()
            if rc != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, BufferedSocket):
                break
            if not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc


class MqttSession:
    def __init__(
        self,
        settings: Settings,
        on_message: MessageHandler,
        on_subscribed: Callable[[bool], None],
    ) -> None:
        self.settings = settings
        self._handle = on_message
        self._on_subscribed = on_subscribed
        self.v5 = settings.mqtt_protocol == 5
        self.client = BufferedClient(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            # MQTT 3.1.1: a persistent session; MQTT 5 says it in connect().
            clean_session=None if self.v5 else False,
            manual_ack=True,
        )
        configure(self.client, settings)
        self.client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        # Our own publishes (dead letters, discovery) are few; do not let a
        # slow broker hold them back behind a small window.
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.on_socket_open = set_nodelay
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_connect_fail = self._unreachable
        self.client.on_subscribe = self._subscribed
        self.client.on_message = self._message
        self.client.lean_handler = on_message
        self.connected = False

    def start(self) -> None:
        s = self.settings
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry_s
            props.ReceiveMaximum = s.receive_maximum
            self.client.connect_async(
                s.mqtt_host, s.mqtt_port, s.keepalive_s, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(s.mqtt_host, s.mqtt_port, s.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, mid: int, qos: int) -> None:
        self.client.ack(mid, qos)

    def ack_all(self, acks: list[tuple[int, int]]) -> None:
        """Acknowledge, in this order, every (mid, qos) of a delivered batch."""
        self.client.ack_all([mid for mid, qos in acks if qos == 1])
        for mid, qos in acks:
            if qos == 2:  # only if someone subscribed at QoS 2: paho's own path
                self.client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    # --- paho callbacks (network thread) -----------------------------------

    def _connected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason)})
            return
        self.connected = True
        log.info(
            "connected",
            extra={"session_present": flags.session_present, "broker": self.settings.mqtt_host},
        )
        if flags.session_present:
            # The broker kept our subscription: messages flow now, and its SUBACK
            # would only come after the whole backlog queued ahead of it.
            self._on_subscribed(True)
        # Subscribing again is harmless when the session kept the subscription;
        # retain handling 1 avoids a replay of retained status on every reconnect.
        if self.v5:
            options = SubscribeOptions(qos=1, retainHandling=1)
            client.subscribe(self.settings.subscription, options=options)
        else:
            client.subscribe(self.settings.subscription, qos=1)

    def _unreachable(self, client: mqtt.Client, userdata: Any) -> None:
        # paho retries on its own, with backoff; say so once per attempt.
        log.warning("broker unreachable", extra={"broker": self.settings.mqtt_host,
                                                 "port": self.settings.mqtt_port})

    def _subscribed(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        ok = all(not r.is_failure for r in reasons)
        if ok:
            log.info("subscribed", extra={"subscription": self.settings.subscription})
        else:
            log.error("subscription refused", extra={"reasons": [str(r) for r in reasons]})
        self._on_subscribed(ok)

    def _disconnected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected = False
        self._on_subscribed(False)
        log.warning("disconnected", extra={"reason": str(reason)})

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic: str | None = message.topic
        except UnicodeDecodeError:
            topic = None
        self._handle(topic, bytes(message.payload), message.mid, message.qos)
