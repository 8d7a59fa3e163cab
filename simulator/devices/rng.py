# A small seeded random source for the models: the same sequence under
# MicroPython and CPython (xorshift32), so a check gives the same figures on
# both interpreters, and noise never depends on the interpreter's own random.
import math

try:
    from typing import Any  # only for the type checker; absent on MicroPython
except ImportError:
    pass


class Rng:
    def __init__(self, seed: int = 1):
        self.state = (seed * 2654435761) & 0xFFFFFFFF or 1
        self._spare: Any = None

    def next32(self) -> int:
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def random(self) -> float:
        return self.next32() / 4294967296.0

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def bit(self) -> int:
        return self.next32() >> 31

    def gauss(self) -> float:
        """Standard normal (Box-Muller, both values used)."""
        spare = self._spare
        if spare is not None:
            self._spare = None
            return spare
        u = self.random() or 1e-12
        v = self.random()
        r = math.sqrt(-2.0 * math.log(u))
        self._spare = r * math.sin(2 * math.pi * v)
        return r * math.cos(2 * math.pi * v)
