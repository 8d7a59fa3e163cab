# The ESP32 task watchdog: once started it cannot be stopped, so it is
# started after the config was read and the tasks exist.
import machine


class Watchdog:
    def __init__(self, timeout_ms: int):
        self.wdt = machine.WDT(timeout=timeout_ms)

    def feed(self) -> None:
        self.wdt.feed()


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
