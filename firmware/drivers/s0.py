# S0 pulse output of a utility meter on an input with pull-up; counted in an
# interrupt handler that only does small-int work (no allocation in an IRQ).
from firmware.logic.pulses import PulseFilter


class S0Counter:
    def __init__(self, port, pin: int, min_gap_ms: int):
        self.port = port
        self.filter = PulseFilter(min_gap_ms, port.ticks_diff)
        self.pin = port.Pin(pin, port.Pin.IN, port.Pin.PULL_UP)
        self.pin.irq(self._edge, port.Pin.IRQ_FALLING)

    def _edge(self, _pin) -> None:
        self.filter.edge(self.port.ticks_ms())

    def count(self) -> int:
        return self.filter.count
