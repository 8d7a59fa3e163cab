# MQTT 3.1.1 without I/O: functions that build packets as bytes, and a parser
# that takes bytes as they come off the socket and hands back whole packets.
# The stream loop in mqtt_client.py is the only code that touches a socket.
import struct

from protocol import wire

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
SUBSCRIBE = 8
SUBACK = 9
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
# Not an MQTT type: a PUBLISH above the size limit, refused unread (its body
# holds the topic and packet id only) so the session goes on.
TOO_LARGE = 16

# The largest ACL plus its topic and packet id; anything bigger is refused.
MAX_PACKET = wire.MAX_ACL_PAYLOAD + 128
# A packet body above this is filled into one buffer of its exact size
# (the ACL: no growing buffer, no second copy).
BIG_BODY = 1024

CONNACK_REASONS = (
    "accepted",
    "unacceptable protocol version",
    "identifier rejected",
    "server unavailable",
    "bad user name or password",
    "not authorised",
)


class MqttError(Exception):
    pass


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _str(text) -> bytes:
    data = text.encode() if isinstance(text, str) else bytes(text)
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _varint(len(body)) + body


def connect(client_id: str, user: str = "", password: str = "", keepalive: int = 60,
            will_topic: str = "", will_payload: bytes = b"", will_retain: bool = True,
            will_qos: int = 1, clean: bool = True) -> bytes:
    flags = 0x02 if clean else 0
    tail = _str(client_id)
    if will_topic:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        tail += _str(will_topic) + _str(will_payload)
    if user:
        flags |= 0x80
        tail += _str(user)
        if password:
            flags |= 0x40
            tail += _str(password)
    body = _str("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive) + tail
    return _packet(CONNECT << 4, body)


def publish_header(topic: str, payload_len: int, qos: int = 0, retain: bool = False,
                   pid: int = 0, dup: bool = False) -> bytes:
    """Fixed header, topic and packet id of a PUBLISH: the caller writes the
    payload after it, straight from its own buffer (no copy of the payload)."""
    first = (PUBLISH << 4) | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    var = _str(topic)
    if qos:
        var += struct.pack("!H", pid)
    return bytes((first,)) + _varint(len(var) + payload_len) + var


def publish(topic: str, payload, qos: int = 0, retain: bool = False, pid: int = 0,
            dup: bool = False) -> bytes:
    return publish_header(topic, len(payload), qos, retain, pid, dup) + bytes(payload)


def puback(pid: int) -> bytes:
    return bytes((PUBACK << 4, 2)) + struct.pack("!H", pid)


def subscribe(pid: int, topics) -> bytes:
    """topics: sequence of (topic filter, qos)."""
    body = struct.pack("!H", pid)
    for name, qos in topics:
        body += _str(name) + bytes((qos,))
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def pingreq() -> bytes:
    return bytes((PINGREQ << 4, 0))


def disconnect() -> bytes:
    return bytes((DISCONNECT << 4, 0))


# --- incoming ---------------------------------------------------------------


class Parser:
    """feed(bytes) then next() -> (type, flags, body) until it returns None.
    A body is bytes, or for a large packet the bytearray it was received in."""

    def __init__(self, max_packet: int = MAX_PACKET):
        self.max_packet = max_packet
        self._buf = bytearray()
        self._big: Any = None  # the body of a large packet, filled as it arrives
        self._big_got = 0
        self._big_first = 0
        self._skip = 0  # bytes of a refused packet still to drop

    def feed(self, data) -> None:
        view = memoryview(data)
        if self._skip:
            n = min(self._skip, len(view))
            self._skip -= n
            view = view[n:]
        big = self._big
        if big is not None and len(view):
            n = min(len(big) - self._big_got, len(view))
            big[self._big_got : self._big_got + n] = view[:n]
            self._big_got += n
            view = view[n:]
        if len(view):
            self._buf.extend(view)

    def next(self):
        big = self._big
        if big is not None:
            if self._big_got < len(big):
                return None
            self._big = None
            first = self._big_first
            return first >> 4, first & 0x0F, big
        buf = self._buf
        if len(buf) < 2:
            return None
        length = 0
        shift = 0
        pos = 1
        while True:
            if pos >= len(buf):
                return None
            byte = buf[pos]
            length |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MqttError("malformed remaining length")
        first = buf[0]
        if length > self.max_packet:
            return self._refuse(first, pos, length)
        if length > BIG_BODY:
            # Received straight into a buffer of its size: the bytes so far
            # move there, the rest arrives there through feed().
            got = min(len(buf) - pos, length)
            big = bytearray(length)
            big[:got] = memoryview(buf)[pos : pos + got]
            self._consume(pos + got)
            self._big = big
            self._big_got = got
            self._big_first = first
            return self.next()
        if len(buf) < pos + length:
            return None
        body = bytes(memoryview(buf)[pos : pos + length])
        self._consume(pos + length)
        return first >> 4, first & 0x0F, body

    def _consume(self, n: int) -> None:
        # Drop the consumed bytes in place: no new buffer per packet.
        self._buf[:n] = b""

    def _refuse(self, first: int, pos: int, length: int):
        """A PUBLISH above the limit: hand back its topic and packet id, drop
        the rest as it arrives. Anything else that large ends the session."""
        buf = self._buf
        if first >> 4 != PUBLISH:
            raise MqttError("packet of %d bytes exceeds %d" % (length, self.max_packet))
        if len(buf) < pos + 2:
            return None
        head = 2 + (buf[pos] << 8 | buf[pos + 1]) + (2 if first & 0x06 else 0)
        if len(buf) < pos + head:
            return None
        body = bytes(memoryview(buf)[pos : pos + head])
        got = min(len(buf), pos + length)
        self._consume(got)
        self._skip = pos + length - got
        return TOO_LARGE, first & 0x0F, body


def parse_connack(body) -> int:
    """-> return code (0 = accepted)."""
    if len(body) != 2:
        raise MqttError("bad CONNACK")
    return body[1]


def parse_publish(flags: int, body) -> tuple:
    """-> (topic, payload, qos, pid, retain)."""
    qos = (flags >> 1) & 3
    n = struct.unpack_from("!H", body, 0)[0]
    topic = bytes(body[2 : 2 + n]).decode()
    pos = 2 + n
    pid = 0
    if qos:
        pid = struct.unpack_from("!H", body, pos)[0]
        pos += 2
    return topic, memoryview(body)[pos:], qos, pid, bool(flags & 1)


def parse_pid(body) -> int:
    """Packet id of PUBACK / SUBACK."""
    if len(body) < 2:
        raise MqttError("packet too short for a packet id")
    return struct.unpack_from("!H", body, 0)[0]
