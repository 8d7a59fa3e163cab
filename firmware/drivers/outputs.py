# Relay / contactor coil / machine-enable output, and plain digital inputs.


class Output:
    def __init__(self, port, pin: int, active_high: bool = True):
        self._on = 1 if active_high else 0
        # Start de-energised before anything else runs: a reset never closes
        # the interlock by itself.
        self.pin = port.Pin(pin, port.Pin.OUT, value=1 - self._on)
        self._state = False

    def set(self, on: bool) -> None:
        self.pin.value(self._on if on else 1 - self._on)
        self._state = on

    def value(self) -> bool:
        return self._state


class Input:
    def __init__(self, port, pin: int, active_high: bool = True, pull=None):
        self.pin = port.Pin(pin, port.Pin.IN, pull)
        self._active = 1 if active_high else 0

    def value(self) -> bool:
        return self.pin.value() == self._active
