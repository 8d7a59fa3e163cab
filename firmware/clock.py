# Time for the firmware: a monotonic millisecond count that never wraps, Unix
# milliseconds once NTP (or a `time` command) has set it, and the sleep the
# tasks await. The primitives are injected: on the board they are
# time.ticks_ms/ticks_diff and asyncio.sleep_ms (drivers/board.py); in the
# simulator they come from its virtual-time event loop, so the same tasks run
# a day in seconds.


class Clock:
    def __init__(self, ticks_ms, ticks_diff, sleep_ms):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self.sleep_ms = sleep_ms
        self._last = ticks_ms()
        self._mono = 0
        self._offset = 0
        self.trusted = False
        self.first_shift_ms = 0

    def now_ms(self) -> int:
        """Milliseconds since boot. time.ticks_ms wraps after 2**30 ms (12.4
        days) on the ESP32; adding up differences never does as long as this
        is called more often than that, which the sampling task ensures."""
        t = self._ticks_ms()
        self._mono += self._ticks_diff(t, self._last)
        self._last = t
        return self._mono

    def unix_ms(self) -> int:
        return self.now_ms() + self._offset

    def set_unix_ms(self, unix_ms: int) -> None:
        """A trusted time (NTP, or the server's `time` command)."""
        offset = unix_ms - self.now_ms()
        if not self.trusted:
            # How far the untrusted timestamps of this boot were off.
            self.first_shift_ms = offset - self._offset
        self._offset = offset
        self.trusted = True

    def start_after(self, unix_ms: int) -> None:
        """Before any trusted time: continue from the last time saved to flash,
        so that timestamps keep increasing across a reboot (sent with tq=0)."""
        if not self.trusted:
            self._offset = unix_ms + 1 - self.now_ms()
