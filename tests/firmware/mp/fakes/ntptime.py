# Fake `ntptime`: like the real one, seconds since the port's epoch
# (2000-01-01 on the ESP32, 1970 on the WebAssembly port) for 2026-01-01.
import time as _time

host = "pool.ntp.org"
_UNIX = 1767225600
_EPOCH = 946684800 if _time.gmtime(0)[0] == 2000 else 0


def time():
    return _UNIX - _EPOCH
