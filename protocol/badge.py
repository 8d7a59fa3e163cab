# Keyed badge hashes: what ACLs and events carry instead of raw card IDs, so a
# leaked ACL or log does not let anyone clone a badge (HMAC-SHA256, mac.py).
#
# The site's badge key is written as hex text (the api's API_BADGE_HASH_KEY,
# every machine node's config `badge_key`); `parse_key` is the one reading of
# that text, so the api and the nodes hash with the same bytes.
import binascii

from protocol.mac import hmac_sha256

HASH_HEX_DIGITS = 16
KEY_MIN_HEX_DIGITS = 32  # 16 bytes
# How to make one; quoted in the errors a bad key gets.
NEW_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_hex(16))"'
_HEX = "0123456789abcdefABCDEF"


def key_error(text) -> str:
    """What is wrong with a badge key's text; "" when it is a valid key."""
    if not isinstance(text, str):
        return "the badge key must be text of hex digits"
    if len(text) < KEY_MIN_HEX_DIGITS:
        return "the badge key has %d characters; it needs at least %d hex digits" % (
            len(text), KEY_MIN_HEX_DIGITS)
    for ch in text:
        if ch not in _HEX:
            return "the badge key must be hex digits only (0-9, a-f); found %r" % ch
    if len(text) % 2:
        return "the badge key needs an even number of hex digits (whole bytes)"
    return ""


def parse_key(text) -> bytes:
    """The badge key's hex text -> the HMAC key bytes; ValueError naming the problem."""
    problem = key_error(text)
    if problem:
        raise ValueError(problem)
    return binascii.unhexlify(text)


def badge_hash(key: bytes, uid: bytes) -> str:
    """64-bit keyed hash of a card UID, as 16 lower-case hex digits; `key` is
    parse_key(the site's badge key)."""
    return binascii.hexlify(hmac_sha256(key, uid)[: HASH_HEX_DIGITS // 2]).decode()


def uid_from_hex(text: str) -> bytes:
    """'04:A2:1B:...' or '04a21b...' as printed by readers -> raw UID bytes."""
    return binascii.unhexlify(text.replace(":", "").replace(" ", "").lower())
