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
from firmware.drivers import board_time

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

STORAGE = "/data"
CONFIG = "/config.json"


class Board:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.clock = Clock(board_time.ticks_ms, board_time.ticks_diff, board_time.sleep_ms)
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
        """Outputs first and off, before anything that can fail."""
        from firmware.drivers.outputs import Output

        pins = self.cfg.get("pins") or {}
        if pins.get("relay", -1) >= 0:
            self.interlock = Output(pins["relay"])
        if pins.get("extraction", -1) >= 0:
            self.extraction = Output(pins["extraction"])

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
        self.ntp = Ntp()
        self.watchdog = Watchdog(watchdog_ms)
        gc.collect()

    def start(self) -> None:
        cfg = self.cfg
        pins = cfg["pins"]
        self.start_safe(int(cfg["watchdog_ms"]))
        role = cfg["role"]
        if role == "machine":
            self._machine(cfg, pins)
        elif role == "heating":
            from firmware.drivers.ds18b20 import Thermometers
            from firmware.drivers.outputs import Input

            self.thermometers = Thermometers(pins["onewire"])
            self.call = Input(pins["call"])
        else:
            if cfg["source"] == "s0":
                from firmware.drivers.s0 import S0Counter

                self.s0 = S0Counter(pins["s0"], int(cfg["min_gap_ms"]))
            else:
                from firmware.drivers.pzem import PzemUart

                self.uart = PzemUart(2, pins["uart_tx"], pins["uart_rx"])
        gc.collect()

    def _machine(self, cfg: dict, pins: dict) -> None:
        from firmware.drivers.outputs import Input
        from firmware.drivers.reader import PolledReader

        if cfg["reader"] == "pn532":
            from firmware.drivers.pn532 import Pn532

            chip: Any = Pn532(pins["i2c_sda"], pins["i2c_scl"])
        else:
            from firmware.drivers.mfrc522 import Mfrc522

            chip = Mfrc522(pins["spi_sck"], pins["spi_mosi"], pins["spi_miso"], pins["rc522_cs"],
                           pins["rc522_rst"])
        self.reader = PolledReader(chip, int(cfg["poll_ms"]))
        if pins.get("running", -1) >= 0:
            self.running = Input(pins["running"])
        if cfg["power"] == "pzem":
            from firmware.drivers.pzem import PzemUart

            self.uart = PzemUart(2, pins["uart_tx"], pins["uart_rx"])
        else:
            from firmware.drivers.adc_clamp import ClampAdc

            self.adc = ClampAdc(pins["adc_current"], pins.get("adc_voltage", -1))

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
