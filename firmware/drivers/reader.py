# Polls a card reader chip and reports when the card on it changes. The
# decision itself is in the machine role; this is the part with the reader's
# own polling delay (poll_ms) which comes on top of the decision time.
from firmware.logic.presence import Presence


class PolledReader:
    def __init__(self, chip, poll_ms: int, sleep_ms):
        """chip: async read_uid() -> bytes or None, never raising, and `fault`
        ("" while it works). on_fault(detail) is called once each time the
        chip goes from working to not (the role reports it)."""
        self.chip = chip
        self.poll_ms = poll_ms
        self.sleep_ms = sleep_ms
        self.presence = Presence()
        self.on_fault = None
        self._fault = ""

    async def poll(self):
        return await self.chip.read_uid()

    async def wait_change(self, current):
        while True:
            uid = await self.poll()
            fault = self.chip.fault
            if fault != self._fault:
                self._fault = fault
                if fault and self.on_fault is not None:
                    self.on_fault(fault)
            if self.presence.poll(uid):
                return self.presence.current
            await self.sleep_ms(self.poll_ms)
