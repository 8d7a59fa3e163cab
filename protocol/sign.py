# The server side of the signed downlink (downlink.py): each node's key,
# message versions, and sealing a message with its MAC. Used by the api, the
# simulator and the tests; a node never loads it (RAM on .mpy nodes).
import binascii
import json

from protocol import downlink, wire
from protocol.mac import hmac_sha256

# A version is epoch << EPOCH_SHIFT plus a counter: the api raises the epoch
# at each start to at least the Unix time in milliseconds, so a version it
# allocates after a database restore is above every version of before (a
# counter that outgrows its 1,024 steps runs into the next epoch's range,
# still growing). Versions stay below 2**53, exact in JavaScript too.
EPOCH_SHIFT = 10


def device_key(master: str, site: str, device: str) -> bytes:
    """The node's downlink key, derived from the site server's master secret:
    the server stores no key per device, and one node's key opens no other."""
    return hmac_sha256(master.encode(), ("downlink/" + site + "/" + device).encode())


def first_version(epoch: int) -> int:
    return epoch << EPOCH_SHIFT


def seal(channel: str, key: bytes, msg: dict) -> bytes:
    """A downlink message as sent: its JSON with the MAC as the last member,
    validated as wire.decode will read it."""
    if channel not in wire.DOWNLINK:
        raise wire.ProtocolError("bad_topic", "%r is not a downlink channel" % channel)
    msg["v"] = wire.SCHEMA_VERSION
    if "mac" in msg:
        msg.pop("mac")
    head = json.dumps(msg).encode()[:-1]  # without its closing brace
    mac = binascii.hexlify(downlink.mac_of(key, channel, head))
    payload = head + downlink.OPEN + mac + downlink.CLOSE
    wire.decode(channel, payload)
    return payload
