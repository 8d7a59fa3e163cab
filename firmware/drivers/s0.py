# S0 pulse output of a utility meter on an input with pull-up; counted in an
# interrupt handler that only does small-int work (no allocation in an IRQ).
import time

from machine import Pin

from firmware.logic.pulses import PulseFilter


class S0Counter:
    def __init__(self, pin: int, min_gap_ms: int):
        self.filter = PulseFilter(min_gap_ms, time.ticks_diff)
        self.pin = Pin(pin, Pin.IN, Pin.PULL_UP)
        self.pin.irq(self._edge, Pin.IRQ_FALLING)

    def _edge(self, _pin) -> None:
        self.filter.edge(time.ticks_ms())

    def count(self) -> int:
        return self.filter.count
