# RMS of a current (and optionally voltage) waveform from raw ADC counts,
# accumulated chunk by chunk so that sampling never blocks the scheduler for
# longer than one mains cycle. Integer sums: on the ESP32 every float is a heap
# object, while (deviation ** 2) summed over a few hundred 12-bit samples stays
# a small int.
import math


class RmsAccumulator:
    """Feed chunks of raw samples, then `finish()` -> RMS in counts.

    The DC bias of a biased current transformer drifts slowly, so the mean of
    the previous window serves as the bias of the next; the residual bias error
    is removed exactly from the variance at the end."""

    def __init__(self, bias: int = 2048):
        self.bias = bias
        self.n = 0
        self.s1 = 0
        self.s2 = 0

    def reset(self) -> None:
        self.n = 0
        self.s1 = 0
        self.s2 = 0

    def add(self, samples, count: int) -> None:
        bias = self.bias
        s1 = 0
        s2 = 0
        for k in range(count):
            d = samples[k] - bias
            s1 += d
            s2 += d * d
        self.n += count
        self.s1 += s1
        self.s2 += s2

    def finish(self) -> float:
        """RMS of the AC part in ADC counts; resets the sums and re-centres the bias."""
        n = self.n
        if n == 0:
            return 0.0
        mean = self.s1 / n
        var = self.s2 / n - mean * mean
        self.bias += int(mean + (0.5 if mean >= 0 else -0.5))
        self.reset()
        return math.sqrt(var) if var > 0 else 0.0


def real_power(v_samples, i_samples, count: int, v_bias: int, i_bias: int) -> float:
    """Mean of v*i in counts^2 over whole cycles (real power before scaling)."""
    acc = 0
    for k in range(count):
        acc += (v_samples[k] - v_bias) * (i_samples[k] - i_bias)
    return acc / count if count else 0.0
