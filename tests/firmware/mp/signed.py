# What a server holding a test node's downlink key sends it (MicroPython
# subset): the key every test node's config gets, as its provisioning writes
# it into config.json (64 hex digits), and messages sealed with it.
import binascii

from protocol import sign

DOWNLINK_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0" * 2


def sealed(channel, msg, key=DOWNLINK_KEY):
    return sign.seal(channel, binascii.unhexlify(key), msg)
