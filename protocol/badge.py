# Keyed badge hashes: what ACLs and events carry instead of raw card IDs, so a
# leaked ACL or log does not let anyone clone a badge (HMAC-SHA256, mac.py).
import binascii

from protocol.mac import hmac_sha256

HASH_HEX_DIGITS = 16


def badge_hash(key: bytes, uid: bytes) -> str:
    """64-bit keyed hash of a card UID, as 16 lower-case hex digits."""
    return binascii.hexlify(hmac_sha256(key, uid)[: HASH_HEX_DIGITS // 2]).decode()


def uid_from_hex(text: str) -> bytes:
    """'04:A2:1B:...' or '04a21b...' as printed by readers -> raw UID bytes."""
    return binascii.unhexlify(text.replace(":", "").replace(" ", "").lower())
