# Debounce of an S0 pulse input, written so an interrupt handler can call it:
# no allocation, only small-int arithmetic on tick values. S0 pulses last at
# least 30 ms (EN 62053-31); contact bounce settles in a few ms.


class PulseFilter:
    def __init__(self, min_gap_ms: int, ticks_diff):
        self.min_gap_ms = min_gap_ms
        self.ticks_diff = ticks_diff
        self.count = 0
        self.rejected = 0
        self._last = 0
        self._seen = False

    def edge(self, ticks) -> bool:
        """A rising edge at `ticks` ms: counts unless it follows the last
        accepted edge within min_gap_ms (a bounce)."""
        if self._seen and self.ticks_diff(ticks, self._last) < self.min_gap_ms:
            self.rejected += 1
            return False
        self._seen = True
        self._last = ticks
        self.count += 1
        return True


def wh_from_pulses(pulses: int, pulses_per_kwh: int) -> int:
    return pulses * 1000 // pulses_per_kwh


def watts_from_pulses(d_pulses: int, dt_ms: int, pulses_per_kwh: int) -> float:
    if dt_ms <= 0:
        return 0.0
    return d_pulses * 3600000000 / (pulses_per_kwh * dt_ms)
