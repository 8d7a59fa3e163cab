# HMAC-SHA256 (RFC 2104) written out, because MicroPython on the ESP32 ships
# hashlib but not hmac. Streaming: a 20 KB ACL is hashed where it lies (a
# memoryview of the MQTT buffer), never copied. Used for badge hashes
# (badge.py) and for the MAC of every downlink message (downlink.py).
import hashlib

_BLOCK = 64


def _padded(key: bytes, fill: int) -> bytes:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    return bytes(b ^ fill for b in key) + bytes((fill,)) * (_BLOCK - len(key))


class Hmac:
    def __init__(self, key: bytes):
        self._outer = _padded(key, 0x5C)
        self._inner = hashlib.sha256(_padded(key, 0x36))

    def update(self, data) -> None:
        self._inner.update(data)

    def digest(self) -> bytes:
        outer = hashlib.sha256(self._outer)
        outer.update(self._inner.digest())
        return outer.digest()


def hmac_sha256(key: bytes, data) -> bytes:
    h = Hmac(key)
    h.update(data)
    return h.digest()


def same(a, b) -> bool:
    """Equal, in a time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
