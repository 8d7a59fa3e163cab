# The node's MQTT session: one stream loop over asyncio.open_connection that
# drains the flash outbox with QoS 1, keeps the retained status current,
# receives the ACL and commands, and reconnects with backoff and jitter.
# Every fault in here (refused, reset, timeout, malformed packet) ends the
# session and is retried; the sensing and access tasks never wait on it.
#
# What happens to a message under each fault:
# - outbox records are deleted only after PUBACK, so a dropped connection
#   resends the unacknowledged ones on the next session (same seq and ts: a
#   duplicate the server overwrites, never a double count);
# - the retained status is sent again on every connect; the last will
#   (retained "offline") is published by the broker when the node vanishes;
# - a downlink message (ACL, command) that arrives while disconnected: the
#   retained ACL is delivered again on subscribe; a command is lost, which is
#   fine because commands are idempotent requests the api repeats.
import asyncio

from firmware.logic.backoff import Backoff
from firmware.net import mqtt_codec as codec
from protocol import wire

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

_TEL = "telemetry"


class MqttClient:
    def __init__(self, link, clock, settings: dict, outbox, site: str, device: str, rand):
        self.link = link
        self.clock = clock
        self.host = settings["host"]
        # TLS pinned to the site CA: (its certificate, PEM; the name the
        # broker's certificate must hold). The link makes the TLS context:
        # only the drivers touch the board's `tls` module.
        self.tls: Any = None
        if settings.get("tls"):
            self.tls = (settings["ca"], settings.get("server_name") or self.host)
        self.port = int(settings.get("port", 8883 if self.tls else 1883))
        self.user = settings.get("user", device)
        self.password = settings.get("password", "")
        self.client_id = settings.get("client_id", device)
        self.keepalive_s = int(settings.get("keepalive_s", 60))
        self.window = int(settings.get("window", 8))
        self.retry_ms = int(settings.get("retry_ms", 15000))
        self.timeout_s = int(settings.get("timeout_s", 10))
        self.backoff = Backoff(
            int(settings.get("backoff_first_ms", 1000)),
            int(settings.get("backoff_max_ms", 16000)),
            rand,
        )
        self.outbox = outbox
        self.topics = {
            "telemetry": wire.topic(site, device, "telemetry"),
            "event": wire.topic(site, device, "event"),
            "status": wire.topic(site, device, "status"),
        }
        self.subscriptions = (
            (wire.topic(site, device, "acl"), 1),
            (wire.topic(site, device, "cmd"), 1),
        )
        self.will = wire.encode("status", wire.status_offline())
        self.on_message: Any = None  # (topic, payload) -> None
        self.on_connect: Any = None  # () -> None; may call publish_retained
        # (channel, payload, tag) -> payload to send, for records with a tag
        self.restamp: Any = None
        # (ms) -> None: announces a wait (the node's supervisor watches it)
        self.expect: Any = None
        self.connected = False
        self.connected_at = 0
        self.sessions = 0
        self.reconnects = 0
        self.sent = 0
        self.retransmits = 0
        self.last_error = ""
        self.wake = asyncio.Event()
        self._retained: dict = {}
        self._inflight: list = []  # [pid, record number or -1, sent_ms, topic or None]
        # Records once sent as they were (tq=0: the clock was not trusted then):
        # resent the same way, since a restamped copy would be a second point.
        self._plain: set = set()
        self._pubacks: list = []
        self._pid = 0
        self._next = 0
        self._last_rx = 0
        self._last_tx = 0
        self._writer: Any = None

    # -- used by the application -------------------------------------------

    def notify(self) -> None:
        """The outbox has something new."""
        self.wake.set()

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Latest-value-wins message (status): kept in RAM, sent QoS 1."""
        self._retained[topic] = payload
        self.wake.set()

    # -- the loop ----------------------------------------------------------

    async def run(self) -> None:
        while True:
            if not self.link.isconnected():
                await self.clock.sleep_ms(1000)
                continue
            try:
                await self._session()
            except (OSError, codec.MqttError, asyncio.TimeoutError, ValueError,
                    MemoryError) as exc:
                self.last_error = "%s: %s" % (type(exc).__name__, exc)
            self.connected = False
            self._close()
            await self.clock.sleep_ms(self.backoff.next_ms())

    def _close(self) -> None:
        writer = self._writer
        self._writer = None
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass

    def _new_pid(self) -> int:
        self._pid = self._pid % 65535 + 1
        return self._pid

    def _wait(self, awaitable, seconds):
        """Every wait of the session has a bound, announced to the supervisor."""
        if self.expect is not None:
            self.expect(int(seconds * 1000))
        return asyncio.wait_for(awaitable, seconds)

    def _open(self):
        if self.tls is None:
            return self.link.open_connection(self.host, self.port)
        return self.link.open_connection(self.host, self.port, self.tls)

    async def _session(self) -> None:
        # The TLS handshake is inside the same bound as the TCP connect.
        reader, writer = await self._wait(self._open(), self.timeout_s)
        self._writer = writer
        parser = codec.Parser()
        writer.write(codec.connect(
            self.client_id, self.user, self.password, self.keepalive_s,
            self.topics["status"], self.will,
        ))
        await self._wait(writer.drain(), self.timeout_s)
        packet: Any = await self._wait(self._read_packet(reader, parser), self.timeout_s)
        if packet[0] != codec.CONNACK:
            raise codec.MqttError("expected CONNACK, got type %d" % packet[0])
        rc = codec.parse_connack(packet[2])
        if rc:
            reason = codec.CONNACK_REASONS[rc] if rc < len(codec.CONNACK_REASONS) else str(rc)
            raise codec.MqttError("broker refused: " + reason)
        writer.write(codec.subscribe(self._new_pid(), self.subscriptions))
        self.backoff.reset()
        self.sessions += 1
        if self.sessions > 1:
            self.reconnects += 1
        self.connected = True
        self.connected_at = self.clock.now_ms()
        self._inflight = []
        self._pubacks = []
        self._next = self.outbox.tail
        now = self.clock.now_ms()
        self._last_rx = now
        self._last_tx = now
        if self.on_connect is not None:
            self.on_connect()
        rx = asyncio.create_task(self._receive(reader, parser))
        try:
            await self._send_loop(writer, rx)
        finally:
            rx.cancel()

    async def _read_packet(self, reader, parser):
        while True:
            packet = parser.next()
            if packet is not None:
                return packet
            data = await reader.read(512)
            if not data:
                raise OSError("connection closed by broker")
            parser.feed(data)

    async def _receive(self, reader, parser) -> None:
        try:
            while True:
                kind, flags, body = await self._read_packet(reader, parser)
                self._last_rx = self.clock.now_ms()
                if kind == codec.PUBACK:
                    self._acked(codec.parse_pid(body))
                elif kind == codec.PUBLISH or kind == codec.TOO_LARGE:
                    topic, payload, qos, pid, _ = codec.parse_publish(flags, body)
                    body = None  # the payload view holds the packet; nothing else does
                    if qos:
                        self._pubacks.append(pid)
                    if self.on_message is not None:
                        # None: refused for its size (the handler reports it)
                        self.on_message(topic, payload if kind == codec.PUBLISH else None)
                    payload = None
                self.wake.set()
        except Exception as exc:
            self.last_error = "receive: %s: %s" % (type(exc).__name__, exc)
            self.wake.set()
            raise

    def _acked(self, pid: int) -> None:
        for k in range(len(self._inflight)):
            entry = self._inflight[k]
            if entry[0] == pid:
                self._inflight.pop(k)
                # A retained status is done unless a newer one is waiting.
                if entry[1] < 0 and self._retained.get(entry[3]) is entry[4]:
                    del self._retained[entry[3]]
                break
        # The outbox tail moves over the records no longer in flight.
        oldest = self._next
        for entry in self._inflight:
            if 0 <= entry[1] < oldest:
                oldest = entry[1]
        self.outbox.ack_to(oldest)
        if self._plain:
            tail = self.outbox.tail
            self._plain = {r for r in self._plain if r >= tail}

    async def _send_loop(self, writer, rx) -> None:
        keep_ms = self.keepalive_s * 1000
        while not rx.done():
            now = self.clock.now_ms()
            if now - self._last_rx > keep_ms * 3 // 2:
                raise codec.MqttError("no reply from broker within keepalive")
            while self._pubacks:
                writer.write(codec.puback(self._pubacks.pop(0)))
            self._send_retained(writer, now)
            self._retransmit(writer, now)
            self._send_new(writer, now)
            if now - self._last_tx >= keep_ms // 2:
                writer.write(codec.pingreq())
                self._last_tx = now
            # A broker that stops reading must not hold the node: the
            # session ends (and reconnects) instead.
            await self._wait(writer.drain(), self.timeout_s)
            self.wake.clear()
            if self._has_work():
                continue
            try:
                await self._wait(self.wake.wait(), self._wait_s(now, keep_ms))
            except asyncio.TimeoutError:
                pass
        await rx  # re-raise what ended the receiver (MicroPython tasks have no result())

    def _has_work(self) -> bool:
        if self._pubacks:
            return True
        if len(self._inflight) < self.window and self._next < self.outbox.end():
            return not self._held()
        return any(not self._retained_in_flight(topic) for topic in self._retained)

    def _held(self) -> bool:
        """The next record waits for a trusted clock (see app.Node.restamp)."""
        if self.restamp is None:
            return False
        record = self.outbox.read(self._next)
        if record is None:
            return False
        return self._stamped(self._next, record[0], record[1]) is None

    def _stamped(self, r: int, channel: str, payload):
        """Record r's payload as it goes out now (app.Node.restamp), None while
        it waits for a trusted clock; the same bytes on every resend once sent."""
        if not self.outbox.last_tag or self.restamp is None or r in self._plain:
            return payload
        out = self.restamp(channel, payload, self.outbox.last_tag)
        if out is payload:
            self._plain.add(r)
        return out

    def _wait_s(self, now: int, keep_ms: int) -> float:
        until = self._last_tx + keep_ms // 2
        if self._next < self.outbox.end():
            until = min(until, now + 5000)  # a held record: look again soon
        for entry in self._inflight:
            if entry[2] + self.retry_ms < until:
                until = entry[2] + self.retry_ms
        return max(10, until - now) / 1000

    def _retained_in_flight(self, topic: str) -> bool:
        for entry in self._inflight:
            if entry[1] < 0 and entry[3] == topic and self._retained.get(topic) is entry[4]:
                return True
        return False

    def _send_retained(self, writer, now: int) -> None:
        for topic in self._retained:
            if len(self._inflight) >= self.window or self._retained_in_flight(topic):
                continue
            payload = self._retained[topic]
            pid = self._new_pid()
            writer.write(codec.publish(topic, payload, 1, True, pid))
            self._inflight.append([pid, -1, now, topic, payload])
            self._last_tx = now

    def _send_new(self, writer, now: int) -> None:
        outbox = self.outbox
        if self._next < outbox.tail:
            self._next = outbox.tail  # the outbox dropped what we were about to send
        while len(self._inflight) < self.window and self._next < outbox.end():
            r = self._next
            self._next += 1
            record = outbox.read(r)
            if record is None:
                continue  # corrupt or dropped: counted by the outbox, skipped
            channel, payload = record
            payload = self._stamped(r, channel, payload)
            if payload is None:
                self._next = r  # held until the clock is trusted
                break
            pid = self._new_pid()
            writer.write(codec.publish_header(self.topics[channel], len(payload), 1, False, pid))
            writer.write(bytes(payload))
            self._inflight.append([pid, r, now, None, None])
            self.sent += 1
            self._last_tx = now
        if not self._inflight:
            outbox.ack_to(self._next)

    def _retransmit(self, writer, now: int) -> None:
        for entry in self._inflight:
            if now - entry[2] < self.retry_ms:
                continue
            if entry[1] < 0:
                payload = self._retained.get(entry[3], entry[4])
                writer.write(codec.publish(entry[3], payload, 1, True, entry[0], True))
            else:
                record = self.outbox.read(entry[1])
                if record is None:
                    continue
                channel, payload = record
                payload = self._stamped(entry[1], channel, payload)
                if payload is None:
                    continue
                writer.write(codec.publish_header(
                    self.topics[channel], len(payload), 1, False, entry[0], True
                ))
                writer.write(bytes(payload))
            entry[2] = now
            self.retransmits += 1
            self._last_tx = now
