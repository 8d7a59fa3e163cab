# Relay module inputs (interlock, extraction) and optocoupler inputs.
#
# Relay modules come in both polarities; the common opto-isolated kind is
# low-level trigger (IN pulled low energises). Whatever the polarity, "off"
# is the de-energised coil, and the pin is driven to it at construction,
# before anything else runs (Pin(..., value=) sets the level before the
# output is enabled). Until then (reset, boot) the pin floats, and a floating
# IN energises neither kind (hardware/wiring.md).


class Output:
    def __init__(self, port, pin: int, active_low: bool):
        self._on = 0 if active_low else 1
        self.pin = port.Pin(pin, port.Pin.OUT, value=1 - self._on)
        self._state = False

    def set(self, on: bool) -> None:
        self.pin.value(self._on if on else 1 - self._on)
        self._state = on

    def value(self) -> bool:
        return self._state


class Input:
    """An optocoupler's collector with a pull-up reads low while its LED side
    is powered: active-low. `internal_pull` asks for the ESP32's own pull-up
    instead of the 10 kOhm on the board; GPIO34-39 have none (config.py
    refuses that combination)."""

    def __init__(self, port, pin: int, active_low: bool = True, internal_pull: bool = False):
        pull = port.Pin.PULL_UP if internal_pull else None
        self.pin = port.Pin(pin, port.Pin.IN, pull)
        self._active = 0 if active_low else 1

    def value(self) -> bool:
        return self.pin.value() == self._active
