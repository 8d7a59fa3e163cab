# Small stand-ins for a node's parts, shared by the check scripts (MicroPython
# subset).


class Out:
    """A relay or an input level: set(on) and value()."""

    def __init__(self, on=False):
        self.on = on

    def set(self, on):
        self.on = on

    def value(self):
        return self.on


class BoardBase:
    """The board's fixed answers: free heap, randomness, why it started."""

    def heap(self):
        return 50000

    def rand(self):
        return 0.5

    def reset_cause(self):
        return "power_on"


# Every test node's downlink key, as its provisioning writes it into
# config.json (64 hex digits), and what a server holding it sends.
DOWNLINK_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0" * 2


def sealed(channel, msg, key=DOWNLINK_KEY):
    import binascii

    from protocol import downlink

    return downlink.seal(channel, binascii.unhexlify(key), msg)
