# Sequence numbers and timestamps of outgoing messages. One seq per device,
# strictly increasing across channels and reboots; ts strictly increasing per
# channel (bumped by 1 ms on a tie), so (measurement, tags, ts) names a point
# and a replay overwrites instead of adding.

# After a reboot, seq continues this far past the last saved value: more than
# the messages that can be sent between two saves (the counter store saves at
# least every SEQ_SAVE_EVERY messages).
SEQ_SAVE_EVERY = 500
SEQ_REBOOT_GAP = 1000


class Stamper:
    def __init__(self, clock, seq: int = 0):
        self.clock = clock
        self.seq = seq
        self._last: dict = {}

    def next(self, channel: str) -> tuple:
        """-> (seq, ts, tq) for a new message on `channel`."""
        self.seq += 1
        ts = self.clock.unix_ms()
        last = self._last.get(channel, -1)
        if ts <= last:
            ts = last + 1
        self._last[channel] = ts
        return self.seq, ts, 1 if self.clock.trusted else 0

    def last_ts(self) -> int:
        best = 0
        for ts in self._last.values():
            if ts > best:
                best = ts
        return best
