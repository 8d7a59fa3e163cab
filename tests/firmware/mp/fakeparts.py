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

