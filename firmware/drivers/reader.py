# Polls a card reader chip and reports when the card on it changes. The
# decision itself is in the machine role; this is the part with the reader's
# own polling delay (poll_ms) which comes on top of the decision time.
from firmware.logic.presence import Presence


class PolledReader:
    def __init__(self, chip, poll_ms: int, sleep_ms):
        """chip: object with read_uid() -> bytes or None."""
        self.chip = chip
        self.sleep_ms = sleep_ms
        self.poll_ms = poll_ms
        self.presence = Presence()
        self.errors = 0

    async def wait_change(self, current):
        while True:
            try:
                uid = self.chip.read_uid()
            except OSError:
                self.errors += 1
                uid = None
            if self.presence.poll(uid):
                return self.presence.current
            await self.sleep_ms(self.poll_ms)
