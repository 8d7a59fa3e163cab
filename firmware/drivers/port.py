# The MicroPython ESP32 port's hardware API, as one object the drivers get
# (drivers/board.py passes this module): machine's Pin, SPI, I2C, ADC, UART,
# esp32.PCNT, the time.ticks_* functions and asyncio's sleep_ms. The
# simulator and the firmware checks pass simulator/devices/port.Port, the
# same names over device models, so the drivers run unchanged on both.
import asyncio
import time

import machine
from esp32 import PCNT  # noqa: F401 - the hardware pulse counter (MicroPython 1.25+; the image is 1.27)

Pin = machine.Pin
SPI = machine.SPI
I2C = machine.I2C
ADC = machine.ADC
UART = machine.UART

ticks_ms = time.ticks_ms
ticks_us = time.ticks_us
ticks_add = time.ticks_add
ticks_diff = time.ticks_diff
sleep_us = time.sleep_us

# time.time() counts from 2000-01-01 on the ESP32 port (1970 on some others).
EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def sleep_ms(ms: int):
    return asyncio.sleep_ms(ms)


def ds18x20_bus(pin: int):
    """DS18B20s on one 1-Wire pin, through micropython-lib's modules (frozen
    into the ESP32 image), imported only on a node that has them."""
    import ds18x20
    import onewire

    return ds18x20.DS18X20(onewire.OneWire(Pin(pin)))
