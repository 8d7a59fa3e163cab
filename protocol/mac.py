# HMAC-SHA256 (RFC 2104) written out, because MicroPython on the ESP32 ships
# hashlib but not hmac. The message comes in parts, hashed where they lie (a
# 20 KB ACL stays in the MQTT buffer, never copied). Used for badge hashes
# (badge.py) and for the MAC of every downlink message (downlink.py).
import hashlib

_BLOCK = 64


def _padded(key: bytes, fill: int) -> bytes:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    return bytes(b ^ fill for b in key) + bytes((fill,)) * (_BLOCK - len(key))


def hmac_sha256(key: bytes, *parts) -> bytes:
    inner = hashlib.sha256(_padded(key, 0x36))
    for part in parts:
        inner.update(part)
    outer = hashlib.sha256(_padded(key, 0x5C))
    outer.update(inner.digest())
    return outer.digest()


def same(a, b) -> bool:
    """Equal, in a time that does not depend on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
