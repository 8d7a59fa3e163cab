# What sits on the node's plain GPIOs: optocoupler inputs, relay modules and
# a meter's S0 pulse output.


class OptoInput:
    """A signal through an optocoupler (PC817 class): while the LED side is
    powered the phototransistor pulls the GPIO low, otherwise the pull-up
    (10 kOhm to 3.3 V on the board, hardware/wiring.md) holds it high: the
    input is active-low. Without the pull-up fitted the pin is held by the
    ESP32's internal pull if it has one (not GPIO34-39) or floats."""

    def __init__(self, port, gpio: int, active, fitted: bool = True, pullup: bool = True):
        """active(now_us) -> True while the signal (running, call for heat) is on."""
        self.port = port
        self.active = active
        self.fitted = fitted
        net = port.net(gpio)
        net.drivers.append(self)
        if pullup:
            net.ext_pull = 1

    def drive(self):
        if self.fitted and self.active(self.port.now_us()):
            return 0
        return None


class RelayModule:
    """One channel of an opto-isolated relay module. Low-level trigger (the
    common kind: IN low lights the opto LED from VCC, so IN must sink current)
    or high-level trigger. An IN left floating, as from reset until the
    firmware configures the pin (GPIO26/27 have no pull at reset, ESP32
    datasheet 2.2), energises neither kind."""

    def __init__(self, port, gpio: int, low_trigger: bool = True, on_change=None):
        self.port = port
        self.low_trigger = low_trigger
        self.on_change = on_change  # called before the contacts move
        self.energised = False
        self.switches = 0
        self.closed_at_us = None
        net = port.net(gpio)
        net.listeners.append(self)
        self.changed(net)

    def changed(self, net) -> None:
        level = net.driven_by_esp()
        on = level is not None and level == (0 if self.low_trigger else 1)
        if on == self.energised:
            return
        if self.on_change is not None:
            self.on_change()
        self.energised = on
        self.switches += 1
        if on:
            self.closed_at_us = self.port.now_us()

    def value(self) -> bool:
        return self.energised


class S0Output:
    """A meter's S0 output (EN 62053-31: an open collector, pulses of at least
    30 ms): a falling edge at each pulse, the pin back high `width_us` later
    through the pull-up. `starts(t0_us, t1_us)` gives the pulse start times in
    (t0, t1]. `glitches`: spikes of `glitch_us` after each falling edge, what
    a long unshielded line picks up (the PCNT filter removes them)."""

    def __init__(self, port, gpio: int, starts, width_us: int = 30000, glitches: int = 0,
                 glitch_us: int = 2):
        self.port = port
        self.gpio = gpio
        self.starts = starts
        self.width_us = width_us
        self.glitches = glitches
        self.glitch_us = glitch_us
        self.pulses = 0
        self._low_until = -1
        self._rises: list = []
        port.net(gpio).drivers.append(self)
        port.sources.append(self)

    def drive(self):
        return 0 if self.port.now_us() < self._low_until else None

    def edges(self, t0: int, t1: int) -> list:
        out = []
        for t in self.starts(t0, t1):
            self.pulses += 1
            out.append((t, self.gpio, 0, self.width_us))
            for k in range(self.glitches):
                up = t + (2 * k + 1) * self.glitch_us
                out.append((up, self.gpio, 1, self.glitch_us))
                out.append((up + self.glitch_us, self.gpio, 0, self.width_us))
            self._rises.append(t + self.width_us)
            if t + self.width_us > self._low_until:
                self._low_until = t + self.width_us
        keep = []
        for rise in self._rises:
            if rise <= t1:
                out.append((rise, self.gpio, 1, 1000000))
            else:
                keep.append(rise)
        self._rises = keep
        return out


class RatePulses:
    """Pulses at a fixed rate from `first_us` on, as from a pulse generator;
    `set_rate(hz, at_us)` turns it to another rate from then on (0: none)."""

    def __init__(self, hz: float, first_us: int = 0):
        self._segments: list = []  # [first_us, period_us (0: none), end_us (-1: open)]
        self.set_rate(hz, first_us)

    def set_rate(self, hz: float, at_us: int) -> None:
        if self._segments:
            self._segments[-1][2] = at_us
        self._segments.append([at_us, 1000000 / hz if hz > 0 else 0, -1])

    @staticmethod
    def _index(segment: list, t: int) -> int:
        """Pulses of a segment started at or before t."""
        first, period, end = segment
        if not period or t < first:
            return 0
        n = int((t - first) // period) + 1
        if end >= 0:
            before_end = int((end - first + period - 1) // period)
            if n > before_end:
                n = before_end
        return n

    def count(self, t: int) -> int:
        """Pulses emitted up to t (the ground truth a counter is held to)."""
        return sum(self._index(seg, t) for seg in self._segments)

    def __call__(self, t0: int, t1: int) -> list:
        out = []
        for seg in self._segments:
            first, period = seg[0], seg[1]
            for k in range(self._index(seg, t0), self._index(seg, t1)):
                out.append(int(first + k * period))
        return out


class CountedPulses:
    """Pulses from a meter register: count_at(t_us) is the number emitted so
    far; the ones in a window are spread evenly over it."""

    def __init__(self, count_at):
        self.count_at = count_at
        self._last = None

    def __call__(self, t0: int, t1: int) -> list:
        if self._last is None:
            self._last = self.count_at(t0)
        now = self.count_at(t1)
        n = now - self._last
        self._last = now
        if n <= 0:
            return []
        step = (t1 - t0) / n
        return [int(t0 + step * (k + 1)) for k in range(n)]
