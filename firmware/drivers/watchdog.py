# The ESP32 task watchdog and the crash counter in RTC memory (it survives a
# soft reset and a watchdog reset, not a power cut). Once started the
# watchdog cannot be stopped, so it is started after the config was read.
# This is the one module that touches either; main.py and app.py ask it.
import time

import machine

# Feeds after which the node counts as healthy and the crash counter starts
# from zero again: ~10 minutes at the app's feed period.
HEALTHY_FEEDS = 60
CRASH_FIRST_S = 5
CRASH_MAX_DOUBLINGS = 8  # 5 s x 2^8 = ~21 minutes at most


class Watchdog:
    def __init__(self, timeout_ms: int):
        self.wdt = machine.WDT(timeout=timeout_ms)
        self.timeout_ms = timeout_ms
        self.feeds = 0

    def feed(self) -> None:
        self.wdt.feed()
        self.feeds += 1
        if self.feeds == HEALTHY_FEEDS:
            clear_crashes()


def _rtc_count() -> int:
    try:
        return (machine.RTC().memory() or b"\x00")[0]
    except (OSError, AttributeError):
        return 0


def _rtc_store(count: int) -> None:
    try:
        machine.RTC().memory(bytes((count,)))
    except (OSError, AttributeError):
        pass


def clear_crashes() -> None:
    _rtc_store(0)


def count_crash() -> int:
    """Counts one crash -> the seconds to wait before the reset: 5 s x 2^n
    for the n crashes before it, so a persistent fault does not spin."""
    count = _rtc_count()
    _rtc_store(min(count + 1, CRASH_MAX_DOUBLINGS))
    return CRASH_FIRST_S << min(count, CRASH_MAX_DOUBLINGS)


def sleep_fed(watchdog, seconds: int) -> None:
    """A blocking wait that outlasts the watchdog timeout: fed in steps of a
    third of its timeout, so the back-off is not cut short by a reset."""
    step_ms = 1000 if watchdog is None else max(100, watchdog.timeout_ms // 3)
    left = seconds * 1000
    while left > 0:
        if watchdog is not None:
            watchdog.wdt.feed()  # not feed(): a back-off must not count as healthy running
        chunk = step_ms if left > step_ms else left
        time.sleep_ms(chunk)
        left -= chunk


def reset_cause() -> str:
    cause = machine.reset_cause()
    names = {
        machine.PWRON_RESET: "power_on",
        machine.HARD_RESET: "hard_reset",
        machine.WDT_RESET: "watchdog",
        machine.DEEPSLEEP_RESET: "deep_sleep",
        machine.SOFT_RESET: "soft_reset",
    }
    return names.get(cause, "unknown")


def reset() -> None:
    machine.reset()
