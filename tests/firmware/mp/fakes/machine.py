# A stand-in for MicroPython's `machine` module, written into the WebAssembly
# MicroPython's file system (and put on sys.path under CPython) so that the
# drivers can be imported and their pure parts exercised without a board.
# Each fake records what the driver did; the checks read it back.


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1
    levels = {}
    refused = ()  # pins the port answers with ValueError("invalid pin")

    def __init__(self, pin, mode=IN, pull=None, value=None):
        if pin in Pin.refused:
            raise ValueError("invalid pin")
        self.id = pin
        self.mode = mode
        self.handler = None
        if value is not None:
            Pin.levels[pin] = value

    def value(self, level=None):
        if level is None:
            return Pin.levels.get(self.id, 0)
        Pin.levels[self.id] = level
        return None

    def __call__(self, level=None):
        return self.value(level)

    def irq(self, handler=None, trigger=0):
        self.handler = handler


class ADC:
    ATTN_11DB = 3
    waveform = []  # samples returned in turn by read_u16

    def __init__(self, pin, atten=0):
        self.pin = pin
        self.k = 0

    def read_u16(self):
        value = ADC.waveform[self.k % len(ADC.waveform)]
        self.k += 1
        return value


class SPI:
    def __init__(self, *args, **kwargs):
        self.written = []

    def write(self, data):
        self.written.append(bytes(data))

    def write_readinto(self, out, into):
        self.written.append(bytes(out))
        for k in range(len(into)):
            into[k] = 0


class I2C:
    def __init__(self, *args, **kwargs):
        self.written = []

    def writeto(self, address, data):
        self.written.append((address, bytes(data)))

    def readfrom_into(self, address, buf):
        for k in range(len(buf)):
            buf[k] = 0

    def readfrom(self, address, n):
        return bytes(n)


class UART:
    def __init__(self, *args, **kwargs):
        self.kwargs = kwargs

    def any(self):
        return 0


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
