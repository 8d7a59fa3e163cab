# A 1-Wire bus with Maxim DS18B20 sensors (datasheet 19-7487 rev 6), at the
# byte level: reset and presence, ROM commands (SKIP, MATCH), CONVERT T with
# its conversion time, READ SCRATCHPAD with the memory map and CRC. Faults:
# a probe unplugged (it no longer answers; the 4.7 kOhm pull-up makes the
# line read 1s), a noisy cable (bit errors), the bus stuck low (a short: reset
# "sees" a presence pulse and every bit reads 0, CRC included).
#
# OneWire, OneWireError and DS18X20 below behave as the micropython-lib
# modules `onewire` and `ds18x20` frozen into the ESP32 image (same public
# calls, same exceptions: OneWireError when no presence pulse answers a
# reset(True), a plain Exception("CRC error") from read_scratch), over this
# bus model instead of the `_onewire` C module.
try:
    from typing import Any  # only for the type checker; absent on MicroPython
except ImportError:
    pass
MATCH_ROM, SKIP_ROM, SEARCH_ROM = 0x55, 0xCC, 0xF0
CONVERT_T, READ_SCRATCHPAD = 0x44, 0xBE
RESET_US = 960  # 480 us reset pulse + 480 us presence window ("1-Wire signaling")
BYTE_US = 8 * 70  # eight time slots of 60-120 us (datasheet: t_SLOT)
POWER_ON_RAW = 0x0550  # +85 degC, the temperature register's power-on value
CONVERT_US = {9: 93750, 10: 187500, 11: 375000, 12: 750000}  # t_CONV max, by resolution


def crc8(data) -> int:
    """Maxim 1-Wire CRC (x^8 + x^5 + x^4 + 1, reflected); 0 over data + its CRC."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


class Ds18b20:
    def __init__(self, rom_hex: str, temp_c=None, resolution: int = 12):
        self.rom = bytes.fromhex(rom_hex)
        if len(self.rom) != 8 or self.rom[0] != 0x28 or crc8(self.rom):
            raise ValueError("not a DS18B20 ROM id (family 28, CRC)")
        self.temp_c = temp_c if temp_c is not None else (lambda: 21.0)
        self.resolution = resolution
        self.connected = True
        self.bit_error_rate = 0.0  # per byte read: a noisy or too long cable
        self.raw = POWER_ON_RAW
        self._converting: Any = None  # (done_us, raw)

    def plug(self, connected: bool) -> None:
        """Unplugged it loses power; plugged back it starts at +85 degC."""
        self.connected = connected
        self.raw = POWER_ON_RAW
        self._converting = None

    def start_conversion(self, now_us: int) -> None:
        temp = self.temp_c()
        raw = int(temp * 16 + (0.5 if temp >= 0 else -0.5)) & 0xFFFF
        self._converting = (now_us + CONVERT_US[self.resolution], raw)

    def scratchpad(self, now_us: int) -> bytes:
        if self._converting is not None and now_us >= self._converting[0]:
            self.raw = self._converting[1]
            self._converting = None
        raw = self.raw
        config = 0x1F | ((self.resolution - 9) << 5)
        data = bytes((raw & 0xFF, raw >> 8, 0x4B, 0x46, config, 0xFF, 0x10 - (raw & 0x0F), 0x10))
        return data + bytes((crc8(data),))


class OneWireBus:
    def __init__(self, port, gpio: int, pullup: bool = True):
        self.port = port
        self.gpio = gpio
        self.devices: list = []
        self.stuck_low = False
        self.pullup = pullup
        self._selected: list = []
        self._out = bytearray()
        self._rom_phase = False
        self._matching: Any = None
        port.net(gpio).onewire = self
        if pullup:
            port.net(gpio).ext_pull = 1

    def add(self, sensor):
        self.devices.append(sensor)
        return sensor

    def _present(self):
        return [d for d in self.devices if d.connected]

    def reset(self) -> bool:
        self.port.busy_us(RESET_US)
        self._selected = []
        self._out = bytearray()
        self._rom_phase = True
        self._matching = None
        if self.stuck_low:
            return True  # the line is low where the presence pulse is sampled
        return bool(self._present())

    def writebyte(self, value: int) -> None:
        self.port.busy_us(BYTE_US)
        if self.stuck_low:
            return
        if self._matching is not None:
            self._matching.append(value)
            if len(self._matching) == 8:
                rom = bytes(self._matching)
                self._selected = [d for d in self._present() if d.rom == rom]
                self._matching = None
            return
        if self._rom_phase:
            self._rom_phase = False
            if value == SKIP_ROM:
                self._selected = self._present()
            elif value == MATCH_ROM:
                self._matching = []
            return
        now = self.port.now_us()
        if value == CONVERT_T:
            for d in self._selected:
                d.start_conversion(now)
        elif value == READ_SCRATCHPAD and len(self._selected) == 1:
            self._out = bytearray(self._selected[0].scratchpad(now))

    def readbyte(self) -> int:
        self.port.busy_us(BYTE_US)
        if self.stuck_low:
            return 0
        if not self._out:
            return 0xFF  # nobody pulls the line down: the pull-up reads 1s
        value = self._out[0]
        self._out = self._out[1:]
        sensor = self._selected[0] if self._selected else None
        if sensor is not None and sensor.bit_error_rate and \
                self.port.rng.random() < sensor.bit_error_rate:
            value ^= 1 << (self.port.rng.next32() % 8)
        return value

    def roms(self):
        if self.stuck_low:
            return []
        return [bytearray(d.rom) for d in self._present()]


class OneWireError(Exception):
    pass


class OneWire:
    SEARCH_ROM = SEARCH_ROM
    MATCH_ROM = MATCH_ROM
    SKIP_ROM = SKIP_ROM

    def __init__(self, pin):
        self.pin = pin
        pin.init(pin.OPEN_DRAIN, pin.PULL_UP)
        self.bus = pin.net.onewire

    def reset(self, required=False):
        present = self.bus.reset()
        if required and not present:
            raise OneWireError
        return present

    def readbyte(self):
        return self.bus.readbyte()

    def readinto(self, buf):
        for k in range(len(buf)):
            buf[k] = self.bus.readbyte()

    def writebyte(self, value):
        self.bus.writebyte(value)

    def write(self, buf):
        for b in buf:
            self.bus.writebyte(b)

    def select_rom(self, rom):
        self.reset()
        self.writebyte(self.MATCH_ROM)
        self.write(rom)

    def scan(self):
        # The library runs SEARCH ROM bit by bit; the model answers with what
        # a clean search finds (a shorted bus finds nothing usable).
        self.bus.reset()
        return self.bus.roms()

    def crc8(self, data):
        return crc8(data)


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire
        self.buf = bytearray(9)

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in (0x10, 0x22, 0x28)]

    def convert_temp(self):
        self.ow.reset(True)
        self.ow.writebyte(self.ow.SKIP_ROM)
        self.ow.writebyte(CONVERT_T)

    def read_scratch(self, rom):
        self.ow.reset(True)
        self.ow.select_rom(rom)
        self.ow.writebyte(READ_SCRATCHPAD)
        self.ow.readinto(self.buf)
        if self.ow.crc8(self.buf):
            raise Exception("CRC error")
        return self.buf

    def read_temp(self, rom):
        buf = self.read_scratch(rom)
        t = buf[1] << 8 | buf[0]
        if t & 0x8000:
            t = -((t ^ 0xFFFF) + 1)
        return t / 16
