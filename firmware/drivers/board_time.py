# The board's time primitives, and the one place where MicroPython's epoch is
# converted: time.time() counts from 2000-01-01 on the ESP32 port (1970 on
# some other ports), the protocol wants Unix milliseconds.
import asyncio
import time

EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0

ticks_ms = time.ticks_ms
ticks_diff = time.ticks_diff


def sleep_ms(ms: int):
    return asyncio.sleep_ms(ms)


def unix_ms_from_board_seconds(seconds: int) -> int:
    return (seconds + EPOCH_OFFSET_S) * 1000
