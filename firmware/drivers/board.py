# The hardware of a real ESP32 node, assembled from the config. The simulator
# builds the same set of attributes from virtual parts (simulator/virtual.py);
# the application sees only this shape:
#   clock, link (isconnected, rssi, keep_up, open_connection), ntp (unix_ms),
#   watchdog (feed), storage_root, config_path, heap(), rand(), reset(),
#   reset_cause(), outputs_off(), and per role: reader, interlock, extraction,
#   running, adc, uart (machine); thermometers, call (heating); s0, uart (meter).
import gc
import random

from firmware.clock import Clock

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

STORAGE = "/data"
CONFIG = "/config.json"


class Board:
    def __init__(self, cfg: dict, port=None):
        """port: the hardware API the drivers use; the ESP32's by default
        (drivers/port.py), device models in the simulator and the checks."""
        if port is None:
            from firmware.drivers import port
        self.cfg = cfg
        self.port = port
        self.clock = Clock(port.ticks_ms, port.ticks_diff, port.sleep_ms)
        self.storage_root = STORAGE
        self.config_path = CONFIG
        self.interlock: Any = None
        self.extraction: Any = None
        self.reader: Any = None
        self.running: Any = None
        self.adc: Any = None
        self.uart: Any = None
        self.thermometers: Any = None
        self.call: Any = None
        self.s0: Any = None
        self.watchdog: Any = None
        self.link: Any = None
        self.ntp: Any = None

    def start_outputs(self) -> None:
        """Outputs first and off, before anything that can fail. A polarity
        that cannot be trusted (a broken config) drives nothing: a floating
        IN energises neither kind of relay module. A pin the port refuses
        raises ValueError (main.py runs the safe mode)."""
        from firmware.drivers.outputs import Output

        cfg = self.cfg
        pins = cfg.get("pins")
        active_low = cfg.get("relay_active_low")
        if not isinstance(pins, dict) or not isinstance(active_low, bool):
            return
        for name in ("relay", "extraction"):
            pin = pins.get(name, -1)
            if isinstance(pin, int) and not isinstance(pin, bool) and pin >= 0:
                out = Output(self.port, pin, active_low)
                if name == "relay":
                    self.interlock = out
                else:
                    self.extraction = out

    def _input(self, pin: int):
        from firmware.drivers.outputs import Input

        cfg = self.cfg
        return Input(self.port, pin, cfg["input_active_low"], cfg["input_pull"] == "internal")

    def outputs_off(self) -> None:
        for out in (self.interlock, self.extraction):
            if out is not None:
                out.set(False)

    def start_safe(self, watchdog_ms: int = 30000) -> None:
        """Safe mode: network and watchdog only, so the error can be reported."""
        from firmware.drivers.ntp import Ntp
        from firmware.drivers.watchdog import Watchdog
        from firmware.drivers.wifi import WifiLink

        wifi = self.cfg.get("wifi")
        wifi = wifi if isinstance(wifi, dict) else {}
        device = self.cfg.get("device")
        self.link = WifiLink(str(wifi.get("ssid", "")), str(wifi.get("password", "")),
                             device if isinstance(device, str) else "workshop-node")
        mqtt = self.cfg.get("mqtt")
        self.ntp = Ntp(self.port, str(mqtt.get("host", "")) if isinstance(mqtt, dict) else "")
        self.watchdog = Watchdog(watchdog_ms)
        gc.collect()

    def start(self) -> None:
        self.start_safe(int(self.cfg["watchdog_ms"]))
        self.start_devices()

    def start_devices(self) -> None:
        """The role's sensors and reader (the outputs exist already)."""
        cfg = self.cfg
        pins = cfg["pins"]
        port = self.port
        role = cfg["role"]
        if role == "machine":
            self._machine(cfg, pins)
        elif role == "heating":
            from firmware.drivers.ds18b20 import Thermometers

            self.thermometers = Thermometers(port.ds18x20_bus(pins["onewire"]))
            self.call = self._input(pins["call"])
        else:
            if cfg["source"] == "s0":
                from firmware.drivers.s0 import S0Counter

                self.s0 = S0Counter(port, pins["s0"])
            else:
                from firmware.drivers.pzem import PzemUart

                self.uart = PzemUart(port, _uart(port, pins))
        gc.collect()

    def _machine(self, cfg: dict, pins: dict) -> None:
        port = self.port
        from firmware.drivers.reader import PolledReader

        if cfg["reader"] == "pn532":
            from firmware.drivers.pn532 import Pn532

            i2c = port.I2C(0, sda=port.Pin(pins["i2c_sda"]), scl=port.Pin(pins["i2c_scl"]),
                           freq=100000)
            chip: Any = Pn532(port, i2c)
        else:
            from firmware.drivers.mfrc522 import Mfrc522

            spi = port.SPI(2, baudrate=1000000, polarity=0, phase=0, sck=port.Pin(pins["spi_sck"]),
                           mosi=port.Pin(pins["spi_mosi"]), miso=port.Pin(pins["spi_miso"]))
            chip = Mfrc522(port, spi, pins["rc522_cs"], pins["rc522_rst"])
        self.reader = PolledReader(chip, int(cfg["poll_ms"]), port.sleep_ms)
        if pins.get("running", -1) >= 0:
            self.running = self._input(pins["running"])
        if cfg["power"] == "pzem":
            from firmware.drivers.pzem import PzemUart

            self.uart = PzemUart(port, _uart(port, pins))
        else:
            from firmware.drivers.adc_clamp import ClampAdc

            self.adc = ClampAdc(port, pins["adc_current"], pins.get("adc_voltage", -1))

    def heap(self) -> int:
        return gc.mem_free()

    def rand(self) -> float:
        return random.random()

    def reset(self) -> None:
        from firmware.drivers.watchdog import reset

        reset()

    def reset_cause(self) -> str:
        from firmware.drivers.watchdog import reset_cause

        return reset_cause()


def _uart(port, pins: dict):
    return port.UART(2, baudrate=9600, tx=pins["uart_tx"], rx=pins["uart_rx"], timeout=0)
