# DS18B20 sensors on one 1-Wire bus, addressed by ROM id (16 hex digits).
import binascii

import ds18x20
import onewire
from machine import Pin


class Thermometers:
    def __init__(self, pin: int):
        self.bus = ds18x20.DS18X20(onewire.OneWire(Pin(pin)))
        self.found = self.bus.scan()

    def convert(self) -> None:
        try:
            self.bus.convert_temp()
        except onewire.OneWireError:
            pass  # no sensor answered; each read reports None

    def read(self, rom_hex: str):
        try:
            value = self.bus.read_temp(binascii.unhexlify(rom_hex))
        except (onewire.OneWireError, ValueError):
            return None
        # 85.0 is the power-on value: a sensor that lost power mid-conversion.
        if value is None or value == 85.0 or value < -55 or value > 125:
            return None
        return value
