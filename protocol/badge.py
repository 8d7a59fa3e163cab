# Keyed badge hashes: what ACLs and events carry instead of raw card IDs, so a
# leaked ACL or log does not let anyone clone a badge. HMAC-SHA256 written out
# by hand because MicroPython on the ESP32 ships hashlib but not hmac.
import binascii
import hashlib

HASH_HEX_DIGITS = 16
_BLOCK = 64


def _pad_key(key: bytes, fill: int) -> bytes:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + b"\x00" * (_BLOCK - len(key))
    return bytes(b ^ fill for b in key)


def badge_hash(key: bytes, uid: bytes) -> str:
    """64-bit keyed hash of a card UID, as 16 lower-case hex digits."""
    inner = hashlib.sha256(_pad_key(key, 0x36) + uid).digest()
    outer = hashlib.sha256(_pad_key(key, 0x5C) + inner).digest()
    return binascii.hexlify(outer[: HASH_HEX_DIGITS // 2]).decode()


def uid_from_hex(text: str) -> bytes:
    """'04:A2:1B:...' or '04a21b...' as printed by readers -> raw UID bytes."""
    return binascii.unhexlify(text.replace(":", "").replace(" ", "").lower())
