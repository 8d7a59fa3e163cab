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
# use this module. MicroPython: no typing at run time.
import binascii
import json

from protocol import wire
from protocol.mac import Hmac, hmac_sha256, same

KEY_BYTES = 32
KEY_HEX = 2 * KEY_BYTES
MAC_HEX = 64
_OPEN = b', "mac": "'
_CLOSE = b'"}'
SUFFIX_BYTES = len(_OPEN) + MAC_HEX + len(_CLOSE)
_HEX = "0123456789abcdef"

# A version is epoch << EPOCH_SHIFT plus a counter: the api raises the epoch
# at each start to at least the Unix time in milliseconds, so a version it
# allocates after a database restore is above every version of before (a
# counter that outgrows its 1,024 steps runs into the next epoch's range,
# still growing). Versions stay below 2**53, exact in JavaScript too.
EPOCH_SHIFT = 10


class Refused(wire.ProtocolError):
    """A downlink message the node does not act on: `bad_mac` (absent, malformed
    or not made with this node's key) or `stale` (not newer than what it holds)."""


def device_key(master: str, site: str, device: str) -> bytes:
    """The node's downlink key, derived from the site server's master secret:
    the server stores no key per device, and one node's key opens no other."""
    return hmac_sha256(master.encode(), ("downlink/" + site + "/" + device).encode())


def key_from_hex(text) -> bytes:
    """A node's `downlink_key` config value -> the key; ValueError names the rule."""
    if not isinstance(text, str) or len(text) != KEY_HEX or text.strip(_HEX):
        raise ValueError("downlink_key must be %d lower-case hex digits" % KEY_HEX)
    return binascii.unhexlify(text)


def first_version(epoch: int) -> int:
    return epoch << EPOCH_SHIFT


def _mac(key: bytes, channel: str, head) -> bytes:
    h = Hmac(key)
    h.update(channel.encode())
    h.update(b"\n")
    h.update(head)
    return h.digest()


def seal(channel: str, key: bytes, msg: dict) -> bytes:
    """A downlink message as sent: its JSON with the MAC as the last member,
    validated as wire.decode will read it."""
    if channel not in wire.DOWNLINK:
        raise wire.ProtocolError("bad_topic", "%r is not a downlink channel" % channel)
    msg["v"] = wire.SCHEMA_VERSION
    if "mac" in msg:
        msg.pop("mac")
    head = json.dumps(msg).encode()[:-1]  # without its closing brace
    payload = head + _OPEN + binascii.hexlify(_mac(key, channel, head)) + _CLOSE
    wire.decode(channel, payload)
    return payload


def check(channel: str, key: bytes, payload) -> bytes:
    """The MAC of a received payload (bytes or memoryview), checked before
    anything else is read; Refused("bad_mac") when absent, malformed or wrong."""
    n = len(payload)
    start = n - SUFFIX_BYTES
    view = memoryview(payload)
    if start < 1 or bytes(view[start : start + len(_OPEN)]) != _OPEN \
            or bytes(view[n - len(_CLOSE) :]) != _CLOSE:
        raise Refused("bad_mac", "no MAC as the last member")
    digits = bytes(view[start + len(_OPEN) : n - len(_CLOSE)])
    if digits.strip(_HEX.encode()):
        raise Refused("bad_mac", "the MAC is not lower-case hex")
    mac = binascii.unhexlify(digits)
    if not same(mac, _mac(key, channel, view[:start])):
        raise Refused("bad_mac", "the MAC does not verify with this node's key")
    return mac
