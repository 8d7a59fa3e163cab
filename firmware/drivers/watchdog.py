# The ESP32 task watchdog: once started it cannot be stopped, so it is
# started after the config was read and the tasks exist.
import machine

# Feeds after which the node counts as healthy and main.py's crash counter
# (RTC memory, growing restart delay) starts from zero again: ~10 minutes.
HEALTHY_FEEDS = 60


class Watchdog:
    def __init__(self, timeout_ms: int):
        self.wdt = machine.WDT(timeout=timeout_ms)
        self.feeds = 0

    def feed(self) -> None:
        self.wdt.feed()
        self.feeds += 1
        if self.feeds == HEALTHY_FEEDS:
            try:
                machine.RTC().memory(b"\x00")
            except (OSError, AttributeError):
                pass


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
