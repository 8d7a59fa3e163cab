# Reconnect delays: exponential with jitter, so that 50 nodes that lost the
# broker at the same moment do not all knock at once when it comes back.


class Backoff:
    def __init__(self, first_ms: int, max_ms: int, rand):
        """rand() -> float in [0, 1)."""
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.rand = rand
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next_ms(self) -> int:
        base = self.first_ms << min(self.attempt, 16)
        if base > self.max_ms:
            base = self.max_ms
        self.attempt += 1
        # 75 % .. 125 % of the base: spread, yet bounded by 1.25 x max_ms.
        return int(base * (0.75 + 0.5 * self.rand()))
