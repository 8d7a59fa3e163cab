# A stand-in for MicroPython's `machine` module under the WebAssembly port:
# the device models' port (simulator/devices) behind
# the names firmware/drivers/port.py takes from `machine`, plus the parts of
# the module that are not hardware models (WDT, RTC, reset causes).
from simulator.devices.port import Port

PORT = Port()
Pin = PORT.Pin
SPI = PORT.SPI
I2C = PORT.I2C
ADC = PORT.ADC
UART = PORT.UART


class WDT:
    def __init__(self, timeout=0):
        self.timeout = timeout
        self.fed = 0

    def feed(self):
        self.fed += 1


class RTC:
    data = b"\x03"

    def memory(self, data=None):
        if data is None:
            return RTC.data
        RTC.data = data
        return None


PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5
resets = []


def reset_cause():
    return WDT_RESET


def reset():
    resets.append(1)
