# The MicroPython ESP32 port's hardware API as the drivers use it
# (firmware/drivers/port.py is the real one): machine.Pin, SPI, I2C, ADC,
# UART, esp32.PCNT, time.ticks_*, sleep_us and asyncio's sleep_ms, backed by
# device models on the node's GPIOs and buses instead of silicon.
#
# Time. Every model reads `now_us()`. Bus transfers and blocking waits spend
# time while the asyncio loop is blocked; `sleep_ms` is a scheduler point. The
# longest stretch without a scheduler point is kept (`longest_block_us`): that
# is how long a badge or a task could have been kept waiting.
#
# Pin interrupts are soft on the ESP32 port: the ISR only schedules the
# Python handler (mp_sched_schedule), which runs when the VM next handles
# pending events and reads ticks_ms then, not at the edge. Inside a long C
# call (flash erase, a blocking socket call) nothing runs: handlers queue, at
# most MICROPY_SCHEDULER_DEPTH of them (8 on the ESP32, ports/esp32/
# mpconfigport.h); the rest are lost.
from .rng import Rng

try:
    from typing import Any  # only for the type checker; absent on MicroPython
except ImportError:
    pass

ETIMEDOUT = 116  # newlib's value, used by the ESP32 port (no internal errno)
ENODEV = 19
SCHEDULER_DEPTH = 8
TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms/ticks_us wrap (py/modtime.c)
INPUT_ONLY = (34, 35, 36, 37, 38, 39)  # ESP32 datasheet 2.2: input only, no pull-up/down
GPIOS = tuple(range(0, 6)) + tuple(range(12, 24)) + (25, 26, 27) + tuple(range(32, 40))
SPI_CALL_US = 4  # MicroPython call and transaction set-up, an estimate
I2C_CALL_US = 20
ADC_READ_US = 20  # one-shot conversion plus the call, an estimate
FILTER_TICK_NS = 12.5  # PCNT glitch filter counts APB_CLK (80 MHz) cycles



class Net:
    """One GPIO and what is connected to it."""

    def __init__(self, port, gpio):
        self.port = port
        self.gpio = gpio
        self.mode = None  # None: not configured (high impedance after reset)
        self.out = 0
        self.pull = 0  # internal: 1 up, -1 down
        self.ext_pull = 0  # a resistor on the board: 1 to 3.3 V, -1 to GND
        self.drivers = []  # models with drive() -> 0, 1 or None (released)
        self.listeners = []  # models with changed(net) when the ESP32 side changes
        self.irq = None  # (handler, trigger, pin)
        self.pcnt = []
        self.onewire = None  # a 1-Wire bus model on this pin

    def driven_by_esp(self):
        """The level the ESP32 drives, or None when it does not drive."""
        if self.mode == ModelPin.OUT:
            return self.out
        if self.mode == ModelPin.OPEN_DRAIN and self.out == 0:
            return 0
        return None

    def level(self) -> int:
        own = self.driven_by_esp()
        if own is not None:
            return own
        for d in self.drivers:
            v = d.drive()
            if v is not None:
                return v
        pull = self.ext_pull or self.pull
        if pull:
            return 1 if pull > 0 else 0
        return self.port.rng.bit()  # floating: the input picks up whatever is near

    def notify(self):
        for listener in self.listeners:
            listener.changed(self)


class ModelPin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2
    _port: Any = None  # set on the per-port subclass

    def __init__(self, id, mode=-1, pull=-1, value=None):
        port = self._port
        if id not in port.gpios:
            raise ValueError("invalid pin")
        self.id = id
        self.port = port
        self.net = port.net(id)
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        net = self.net
        if value is not None:
            net.out = 1 if value else 0
        if mode != -1 and mode is not None:
            if mode in (self.OUT, self.OPEN_DRAIN) and self.id in INPUT_ONLY:
                raise ValueError("pin can only be input")
            net.mode = mode
        if pull != -1:
            want = 1 if pull == self.PULL_UP else (-1 if pull == self.PULL_DOWN else 0)
            # gpio_set_pull_mode on GPIO34-39 has no pad to act on: the pin floats.
            net.pull = 0 if self.id in INPUT_ONLY else want
            if want and self.id in INPUT_ONLY:
                self.port.ignored_pulls.append(self.id)
        net.notify()

    def value(self, v=None):
        if v is None:
            self.port.sync()
            return self.net.level()
        self.net.out = 1 if v else 0
        self.net.notify()
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, hard=False):
        # The ESP32 port schedules the handler whatever `hard` says.
        self.net.irq = (handler, trigger, self) if handler is not None else None
        return None


class ModelSPI:
    _port: Any = None

    def __init__(self, id, baudrate=1000000, polarity=0, phase=0, sck=None, mosi=None,
                 miso=None, **kwargs):
        self.port = self._port
        self.baudrate = baudrate

    def _selected(self):
        for cs, device in self.port.spi_devices:
            if self.port.net(cs).level() == 0:
                return device
        return None

    def _frame(self, out):
        self.port.busy_us(SPI_CALL_US + len(out) * 8000000 // self.baudrate)
        device = self._selected()
        if device is None:
            return bytes(len(out))  # nobody drives MISO: it reads low
        return device.spi_frame(bytes(out))

    def write(self, buf):
        self._frame(buf)

    def write_readinto(self, out, into):
        data = self._frame(out)
        for k in range(len(into)):
            into[k] = data[k]

    def read(self, n, write=0):
        return self._frame(bytes((write,)) * n)

    def readinto(self, buf, write=0):
        data = self._frame(bytes((write,)) * len(buf))
        for k in range(len(buf)):
            buf[k] = data[k]


class ModelI2C:
    _port: Any = None

    def __init__(self, id, scl=None, sda=None, freq=400000, timeout=50000, **kwargs):
        self.port = self._port
        self.freq = freq

    def _device(self, addr, n):
        self.port.busy_us(I2C_CALL_US + (n + 1) * 9 * 1000000 // self.freq)
        device = self.port.i2c_devices.get(addr)
        if device is None:
            raise OSError(ENODEV)  # no ACK to the address
        return device

    def writeto(self, addr, buf, stop=True):
        device = self._device(addr, len(buf))
        device.i2c_write(bytes(buf))
        return len(buf)

    def readfrom(self, addr, n, stop=True):
        return bytes(self._device(addr, n).i2c_read(n))

    def readfrom_into(self, addr, buf, stop=True):
        data = self._device(addr, len(buf)).i2c_read(len(buf))
        for k in range(len(buf)):
            buf[k] = data[k]

    def scan(self):
        return sorted(self.port.i2c_devices)


class ModelADC:
    _port: Any = None

    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3

    def __init__(self, pin, atten=0):
        self.port = self._port
        gpio = pin if isinstance(pin, int) else pin.id
        self.model = self.port.adcs.get(gpio)
        if self.model is None:
            raise ValueError("no ADC model on GPIO%d" % gpio)
        self.atten = atten

    def read_u16(self):
        self.port.busy_us(ADC_READ_US)
        return self.model.raw(self.port.now_us(), self.atten) << 4

    def read(self):
        self.port.busy_us(ADC_READ_US)
        return self.model.raw(self.port.now_us(), self.atten)

    def read_uv(self):
        self.port.busy_us(ADC_READ_US)
        return self.model.calibrated_uv(self.port.now_us(), self.atten)


class ModelUART:
    _port: Any = None

    def __init__(self, id, baudrate=9600, tx=None, rx=None, timeout=0, **kwargs):
        self.port = self._port
        self.baudrate = baudrate
        rx_gpio = rx if isinstance(rx, int) or rx is None else rx.id
        self.device = self.port.uart_devices.get(rx_gpio)

    def write(self, buf):
        data = bytes(buf)
        # The bytes leave at the baud rate (10 bits a byte, 8N1) after the call.
        done = self.port.now_us() + len(data) * 10000000 // self.baudrate
        self.port.busy_us(30)
        if self.device is not None:
            self.device.uart_receive(data, done)
        return len(data)

    def any(self):
        if self.device is None:
            return 0
        return self.device.uart_available(self.port.now_us())

    def read(self, n=-1):
        if self.device is None:
            return None
        data = self.device.uart_take(n, self.port.now_us())
        return data or None  # MicroPython returns None when nothing arrived

    def readinto(self, buf):
        data = self.read(len(buf))
        if not data:
            return None
        for k in range(len(data)):
            buf[k] = data[k]
        return len(data)


class _PcntConstants:
    IGNORE = 0
    NORMAL = 0
    INCREMENT = 1
    REVERSE = 1
    DECREMENT = 2
    HOLD = 2
    IRQ_ZERO = 64
    IRQ_MAX = 32


class ModelPCNT(_PcntConstants):
    """esp32.PCNT: a 16-bit hardware edge counter with a glitch filter (ESP32
    TRM, Pulse Count Controller: pulses shorter than FILTER_THRES APB cycles
    are ignored; the counter returns to 0 at thr_h_lim)."""

    def __init__(self, port):
        self.port = port
        self.gpio = -1
        self.rising = 0
        self.falling = 0
        self.filter_ns = 0
        self.max = 0
        self.min = 0
        self.count = 0
        self.running = False
        self.high = True

    def init(self, pin=None, rising=None, falling=None, filter=None, max=None, min=None,
             value=None, channel=0, **kwargs):
        if pin is not None:
            if self.gpio >= 0:
                self.port.net(self.gpio).pcnt.remove(self)
            self.gpio = pin if isinstance(pin, int) else pin.id
            self.port.net(self.gpio).pcnt.append(self)
            self.high = self.port.net(self.gpio).level() == 1
        if rising is not None or falling is not None:
            self.rising = rising or 0
            self.falling = falling or 0
        if filter is not None:
            if not 0 <= filter <= 1023:
                raise ValueError("filter out of range")
            self.filter_ns = filter * FILTER_TICK_NS
        if max is not None:
            self.max = max
            self.count = 0
        if min is not None:
            self.min = min
            self.count = 0
        if value is not None:
            self.count = 0
        self.running = True

    def start(self):
        self.running = True

    def stop(self):
        self.running = False

    def value(self, value=None):
        self.port.sync()
        old = self.count
        if value is not None:
            if value != 0:
                raise ValueError("value can only be reset to 0")
            self.count = 0
        return old

    def edge(self, rising, width_us):
        # The filter passes a level only once it held FILTER_THRES cycles; a
        # spike's two edges both vanish, as the filtered input never moved.
        if not self.running or width_us * 1000 < self.filter_ns or rising == self.high:
            return
        self.high = rising
        action = self.rising if rising else self.falling
        if action == self.INCREMENT:
            self.count += 1
            if self.max and self.count >= self.max:
                self.count = 0
            elif self.count > 32767:
                self.count = -32768
        elif action == self.DECREMENT:
            self.count -= 1
            if self.min and self.count <= self.min:
                self.count = 0


class PcntFactory(_PcntConstants):
    """`esp32.PCNT(id, **kw)`: the singleton unit `id`, (re)initialised."""

    def __init__(self, port):
        self.port = port

    def __call__(self, id, **kwargs):
        unit = self.port.pcnt_units.get(id)
        if unit is None:
            unit = self.port.pcnt_units[id] = ModelPCNT(self.port)
        if kwargs:
            unit.init(**kwargs)
        return unit


class _Sleep:
    """asyncio.sleep_ms for a hand-stepped coroutine: a scheduler point that
    lets `ms` of model time pass, then yields once."""

    def __init__(self, port, ms):
        self.port = port
        self.ms = ms

    def __iter__(self):
        self.port.idle_us(self.ms * 1000)
        yield

    __await__ = __iter__


class ManualTime:
    """Model time for checks that step coroutines by hand."""

    def __init__(self, start_us=0):
        self.t = start_us

    def now_us(self):
        return self.t

    def advance_us(self, us):
        self.t += us

    def sleep(self, port, ms):
        return _Sleep(port, ms)


class Port:
    """One node's ESP32 as the drivers see it. `timebase` supplies now_us(),
    advance_us(us) and sleep(port, ms); ManualTime when none is given."""

    def __init__(self, timebase=None, seed=1, pcnt=True):
        self.timebase = timebase if timebase is not None else ManualTime()
        self.rng = Rng(seed)
        # The port's pin table: Pin() of any other number raises
        # ValueError("invalid pin"). A check narrows it for a module that
        # takes more pins than the ESP32 itself (PSRAM, a variant's flash).
        self.gpios = GPIOS
        self.nets = {}
        self.spi_devices = []
        self.i2c_devices = {}
        self.adcs = {}
        self.uart_devices = {}
        self.pcnt_units = {}
        self.sources = []  # models with edges(t0_us, t1_us) -> [(t_us, gpio, level, width_us)]
        self.ignored_pulls = []
        self.block_us = 0
        self.longest_block_us = 0
        self.irq_dropped = 0
        self._pending = []
        self._irq_time = None
        self._synced = self.timebase.now_us()
        port = self

        class Pin(ModelPin):
            _port = port

        class SPI(ModelSPI):
            _port = port

        class I2C(ModelI2C):
            _port = port

        class ADC(ModelADC):
            _port = port

        class UART(ModelUART):
            _port = port

        self.Pin = Pin
        self.SPI = SPI
        self.I2C = I2C
        self.ADC = ADC
        self.UART = UART
        self.PCNT = PcntFactory(self) if pcnt else None

    # -- wiring (for the models and the checks) ------------------------------

    def net(self, gpio):
        net = self.nets.get(gpio)
        if net is None:
            net = self.nets[gpio] = Net(self, gpio)
        return net

    def ds18x20_bus(self, pin):
        """What firmware/drivers/port.py builds from micropython-lib's
        onewire and ds18x20 modules: here their models on this GPIO."""
        from .onewire import DS18X20, OneWire

        return DS18X20(OneWire(self.Pin(pin)))

    # -- time as the drivers see it ------------------------------------------

    def now_us(self):
        return self.timebase.now_us()

    def ticks_us(self):
        t = self._irq_time if self._irq_time is not None else self.now_us()
        return t % TICKS_PERIOD

    def ticks_ms(self):
        t = self._irq_time if self._irq_time is not None else self.now_us()
        return (t // 1000) % TICKS_PERIOD

    def ticks_add(self, t, delta):
        return (t + delta) % TICKS_PERIOD

    def ticks_diff(self, a, b):
        half = TICKS_PERIOD // 2
        return ((a - b + half) % TICKS_PERIOD) - half

    def sleep_us(self, us):
        """time.sleep_us: blocks the loop, pending handlers still run."""
        if us > 0:
            self.wait_us(us)

    def sleep_ms_blocking(self, ms):
        """time.sleep_ms outside asyncio: blocks the loop."""
        if ms > 0:
            self.wait_us(ms * 1000)

    def sleep_ms(self, ms):
        """asyncio.sleep_ms: a scheduler point."""
        return self.timebase.sleep(self, ms)

    # -- time passing ----------------------------------------------------------

    def busy_us(self, us):
        """A C call (bus transfer, flash erase, blocking socket call): the loop
        is blocked and pin interrupt handlers queue until it returns."""
        self.block_us += us
        if not self.sources:  # no edges can come (the common case: speed)
            self.timebase.advance_us(us)
            return
        self.sync()  # the edges of the time that passed before the call
        t0 = self.now_us()
        self.timebase.advance_us(us)
        self._edges(t0, self.now_us(), True)
        self._run_pending()

    def wait_us(self, us):
        """A blocking wait in Python (sleep_us, a busy loop): the loop is
        blocked, but the VM handles pending interrupts as they come."""
        self.block_us += us
        if not self.sources:
            self.timebase.advance_us(us)
            return
        self.sync()
        t0 = self.now_us()
        self.timebase.advance_us(us)
        self._edges(t0, self.now_us(), False)

    def idle_us(self, us):
        """The loop sleeps: a scheduler point, then `us` pass."""
        self.scheduler_point()
        t0 = self.now_us()
        self.timebase.advance_us(us)
        self._edges(t0, self.now_us(), False)

    def scheduler_point(self):
        if self.block_us > self.longest_block_us:
            self.longest_block_us = self.block_us
        self.block_us = 0
        self.sync()
        self._run_pending()

    def sync(self):
        """Edges up to now, for time that passed outside the models' view
        (the simulator's loop); the VM was idle then."""
        now = self.now_us()
        if now > self._synced:
            self._edges(self._synced, now, False)

    def _edges(self, t0, t1, busy):
        self._synced = t1
        if not self.sources:
            return
        edges = []
        for source in self.sources:
            edges.extend(source.edges(t0, t1))
        edges.sort()
        for t, gpio, level, width in edges:
            net = self.nets.get(gpio)
            if net is None:
                continue
            for unit in net.pcnt:
                unit.edge(level == 1, width)
            irq = net.irq
            if irq is None or not irq[1] & (ModelPin.IRQ_RISING if level else ModelPin.IRQ_FALLING):
                continue
            if busy:
                if len(self._pending) < SCHEDULER_DEPTH:
                    self._pending.append(irq)
                else:
                    self.irq_dropped += 1
            else:
                self._irq_time = t
                try:
                    irq[0](irq[2])
                finally:
                    self._irq_time = None

    def _run_pending(self):
        while self._pending:
            handler, _, pin = self._pending.pop(0)
            handler(pin)
