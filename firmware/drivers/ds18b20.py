# DS18B20 sensors on one 1-Wire bus, addressed by ROM id (16 hex digits),
# through micropython-lib's ds18x20/onewire (built by the port). Every fault
# of a sensor or the bus is a missing reading, never an exception: the
# library raises OneWireError when no presence pulse answers and a plain
# Exception("CRC error") for an unplugged or noisy probe.
import binascii

POWER_ON_RAW = 0x0550  # +85 degC: a sensor that lost power mid-conversion


def decode(pad):
    """Scratchpad -> degC, or None with the reason. A bus shorted to ground
    reads nine zero bytes, whose CRC is 0 too: the fixed bytes of the memory
    map (DS18B20 datasheet, figure 9: byte 5 = FFh, byte 7 = 10h, config
    0RR11111b) tell a real sensor from that."""
    if pad[5] != 0xFF or pad[7] != 0x10 or pad[4] & 0x9F != 0x1F:
        return None, "not a DS18B20 scratchpad (bus stuck low?)"
    raw = pad[1] << 8 | pad[0]
    if raw == POWER_ON_RAW:
        return None, "power-on value 85 degC"
    if raw & 0x8000:
        raw -= 0x10000
    value = raw / 16
    if value < -55 or value > 125:
        return None, "out of range"
    return value, ""


class Thermometers:
    def __init__(self, bus):
        """bus: a ds18x20.DS18X20 on its onewire.OneWire (port.ds18x20_bus)."""
        self.bus = bus
        self.error = ""  # why the last read gave None

    def convert(self) -> bool:
        try:
            self.bus.convert_temp()
            return True
        except Exception:  # OneWireError: nobody on the bus; reads say so
            return False

    def read(self, rom_hex: str):
        try:
            pad = self.bus.read_scratch(binascii.unhexlify(rom_hex))
        except Exception as exc:  # the library's CRC error is a bare Exception
            self.error = str(exc) or type(exc).__name__
            return None
        value, self.error = decode(pad)
        return value
