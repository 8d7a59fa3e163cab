# DS18B20 sensors on one 1-Wire bus, addressed by ROM id (16 hex digits).
import binascii


class Thermometers:
    def __init__(self, bus, bus_error):
        self.bus = bus
        self.bus_error = bus_error
        self.found = self.bus.scan()

    def convert(self) -> None:
        try:
            self.bus.convert_temp()
        except self.bus_error:
            pass  # no sensor answered; each read reports None

    def read(self, rom_hex: str):
        try:
            value = self.bus.read_temp(binascii.unhexlify(rom_hex))
        except (self.bus_error, ValueError):
            return None
        # 85.0 is the power-on value: a sensor that lost power mid-conversion.
        if value is None or value == 85.0 or value < -55 or value > 125:
            return None
        return value
