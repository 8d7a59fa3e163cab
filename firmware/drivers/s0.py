# S0 pulse output of a utility meter (an open collector to GND, pulses of at
# least 30 ms, EN 62053-31) on an input with pull-up.
#
# Counted by the ESP32's hardware pulse counter (esp32.PCNT, in every image
# of MicroPython 1.25+): every falling edge, whatever the CPU is doing, with
# the glitch filter at its maximum of 1023 APB cycles (12.8 us, ESP32 TRM
# "Pulse Count Controller") against spikes on the line. The 16-bit unit
# returns to 0 at `WRAP`; read every sampling period, the difference never
# spans a wrap.
#
# Without PCNT (a port that lacks it; the device models can leave it out), a
# pin interrupt counts. On the ESP32 it is soft: the handler runs when the VM
# gets to it and reads ticks_ms then, so handlers that were held back by a
# blocking call run together and a debounce on their times would reject real
# pulses. S0 outputs are transistors and do not bounce, so every falling edge
# counts; only more than 8 held back at once (the scheduler's depth) would be
# lost.
WRAP = 32000
FILTER_APB_CYCLES = 1023


class S0Counter:
    def __init__(self, port, pin: int):
        self.pin = port.Pin(pin, port.Pin.IN, port.Pin.PULL_UP)
        self._count = 0
        self._last = 0
        self.pcnt = None
        PCNT = port.PCNT
        if PCNT is not None:
            self.pcnt = PCNT(0, pin=self.pin, falling=PCNT.INCREMENT, filter=FILTER_APB_CYCLES,
                             max=WRAP)
            self.pcnt.start()
        else:
            self.pin.irq(self._edge, port.Pin.IRQ_FALLING)

    def _edge(self, _pin) -> None:
        self._count += 1

    def count(self) -> int:
        """Pulses since boot."""
        if self.pcnt is not None:
            value = self.pcnt.value()
            delta = value - self._last
            self._last = value
            self._count += delta if delta >= 0 else delta + WRAP
        return self._count
