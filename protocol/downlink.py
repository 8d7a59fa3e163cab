# Signed, ordered downlink messages (acl and cmd, server -> node).
#
# Each carries a MAC under the node's own key and a version that only grows
# (docs/protocol.md, "Signed downlink"). The MAC is HMAC-SHA256 over the
# channel name, a newline and the exact payload bytes before the "mac" member,
# which the sender writes last, in one fixed form:
#
#     {"v": 1, "ver": 12, "allow": [...], "mac": "<64 hex digits>"}
#                                        ^ the MAC covers everything before ', "mac"'
#
# so a node checks it on the bytes as received, before parsing anything, and
# with no copy of the payload. The channel in the MAC keeps a signed command
# from passing as an ACL and back. The api, the firmware and the simulator all
# use this module; what only the server side needs (keys, versions, sealing)
# is in sign.py, which a node never loads. MicroPython: no typing at run time.
import binascii

from protocol import wire
from protocol.mac import hmac_sha256, same

KEY_BYTES = 32
KEY_HEX = 2 * KEY_BYTES
MAC_HEX = 64
OPEN = b', "mac": "'
CLOSE = b'"}'
SUFFIX_BYTES = len(OPEN) + MAC_HEX + len(CLOSE)
_HEX = "0123456789abcdef"


class Refused(wire.ProtocolError):
    """A downlink message the node does not act on: `bad_mac` (absent, malformed
    or not made with this node's key) or `stale` (not newer than what it holds)."""


def key_from_hex(text) -> bytes:
    """A node's `downlink_key` config value -> the key; ValueError names the rule."""
    if not isinstance(text, str) or len(text) != KEY_HEX or text.strip(_HEX):
        raise ValueError("downlink_key must be %d lower-case hex digits" % KEY_HEX)
    return binascii.unhexlify(text)


def mac_of(key: bytes, channel: str, head) -> bytes:
    """The MAC of a message: over its channel, a newline and its head."""
    return hmac_sha256(key, channel.encode(), b"\n", head)


def check(channel: str, key: bytes, payload) -> bytes:
    """The MAC of a received payload (bytes or memoryview), checked before
    anything else is read; Refused("bad_mac") when absent, malformed or wrong."""
    n = len(payload)
    start = n - SUFFIX_BYTES
    view = memoryview(payload)
    if start < 1 or bytes(view[start : start + len(OPEN)]) != OPEN \
            or bytes(view[n - len(CLOSE) :]) != CLOSE:
        raise Refused("bad_mac", "no MAC as the last member")
    digits = bytes(view[start + len(OPEN) : n - len(CLOSE)])
    if digits.strip(_HEX.encode()):
        raise Refused("bad_mac", "the MAC is not lower-case hex")
    mac = binascii.unhexlify(digits)
    if not same(mac, mac_of(key, channel, view[:start])):
        raise Refused("bad_mac", "the MAC does not verify with this node's key")
    return mac
