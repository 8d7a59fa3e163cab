"""Virtual hardware with the same interfaces as firmware/drivers/board.py.

A `VirtualBoard` holds what a real board would: the clock, the link, the
outputs and sensors of its role, and a flash folder on the host. It is
rebuilt from scratch on every (virtual) power-on; only the flash folder and
the physical world outside (loads, building, meter) survive."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware.clock import Clock
from firmware.logic import modbus
from firmware.net import mqtt_codec as codec
from simulator.plant import MachineLoad, UtilityMeter, sine_table

if TYPE_CHECKING:
    from simulator.fleet import Fleet, SimNode

ADC_FULL = 4095
SIM_HEAP_FREE = 96_000  # reported as free heap; the real figure is measured under MicroPython


class VirtualOutput:
    """Relay or contactor coil. `before_change` lets the plant integrate its
    load up to the switching instant."""

    def __init__(self, before_change: Callable[[], None] | None = None) -> None:
        self.on = False
        self.before_change = before_change
        self.switched_at: float | None = None  # perf_counter of the last close

    def set(self, on: bool) -> None:
        if on != self.on and self.before_change is not None:
            self.before_change()
        if on and not self.on:
            self.switched_at = time.perf_counter()
        self.on = on

    def value(self) -> bool:
        return self.on


class VirtualInput:
    def __init__(self, read: Callable[[], bool]) -> None:
        self.read = read

    def value(self) -> bool:
        return self.read()


class VirtualReader:
    """Cards put on and taken off by the scenario. `wait_change` is what the
    board's PolledReader offers; here it returns the moment the card
    arrives, so the measured latency is the node's own decision time."""

    def __init__(self) -> None:
        self._changes: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.read_at: float | None = None  # perf_counter when the last card was read

    def put(self, uid: bytes | None) -> None:
        self._changes.put_nowait(uid)

    async def wait_change(self, current: bytes | None) -> bytes | None:
        uid = await self._changes.get()
        if uid is not None:
            self.read_at = time.perf_counter()
        return uid


class VirtualAdc:
    """A current clamp on a load: one mains cycle of a sine per chunk, its
    amplitude from the load's current at this virtual instant."""

    has_voltage = False

    def __init__(self, load: MachineLoad, now_s: Callable[[], float],
                 clamp: dict[str, Any]) -> None:
        self.load = load
        self.now_s = now_s
        self.volts = float(clamp["volts"]) * float(clamp["pf"])
        self.amps_per_count = float(clamp["adc_ref_v"]) / ADC_FULL * float(clamp["amps_per_volt"])
        self.rng = random.Random(7)
        self._tables: dict[int, list[float]] = {}

    def read_chunk(self, i_buf: Any, v_buf: Any, n: int, interval_us: int) -> None:
        table = self._tables.get(n)
        if table is None:
            table = self._tables[n] = sine_table(n)
        amps = self.load.amps(self.now_s(), self.volts)
        peak_counts = amps * 2**0.5 / self.amps_per_count
        noise = self.rng.random
        if peak_counts == 0:  # no load, the common case: dither never leaves the midpoint
            for k in range(n):
                i_buf[k] = 2048
            return
        for k in range(n):
            # Uniform dither before truncation: an unbiased 12-bit conversion.
            value = int(2048 + peak_counts * table[k] + noise())
            i_buf[k] = min(ADC_FULL, max(0, value))


class VirtualPzem:
    """A PZEM-004T v3 on a virtual UART: answers real Modbus RTU frames."""

    def __init__(self, watts: Callable[[], float], energy_wh: Callable[[], float],
                 address: int = 1) -> None:
        self.watts = watts
        self.energy_wh = energy_wh
        self.address = address
        self.requests = 0

    async def transact(self, request: bytes, reply_len: int) -> bytes:
        self.requests += 1
        crc = modbus.crc16(request, 6)
        if request[6] != crc & 0xFF or request[7] != crc >> 8 or request[0] != self.address:
            raise OSError("no reply from meter")  # a real PZEM ignores a bad frame
        await asyncio.sleep(0.06)
        watts = self.watts()
        return modbus.pzem_encode(self.address, 230.0, watts / 230.0, watts,
                                  int(self.energy_wh()) & 0xFFFFFFFF, 50.0, 1.0)


class VirtualThermometers:
    def __init__(self, read: Callable[[str], float | None]) -> None:
        self.read_rom = read

    def convert(self) -> None:
        pass  # the plant's temperatures are always ready

    def read(self, rom_hex: str) -> float | None:
        return self.read_rom(rom_hex)


class VirtualS0:
    """The utility meter's pulse output, counted since this board's boot."""

    def __init__(self, meter: UtilityMeter, now_s: Callable[[], float],
                 pulses_per_kwh: int) -> None:
        self.meter = meter
        self.now_s = now_s
        self.ppk = pulses_per_kwh
        self._at_boot = self._total()

    def _total(self) -> int:
        return int(self.meter.energy_wh(self.now_s()) * self.ppk / 1000)

    def count(self) -> int:
        return self._total() - self._at_boot


class Exchange:
    """MQTT requests a node has sent and its broker has not answered yet,
    read from both directions of the stream with the firmware's own parser.
    While one is open the virtual clock must not jump: the answer is on its
    way in real time."""

    REQUESTS = (codec.CONNECT, codec.SUBSCRIBE, codec.PINGREQ)
    ANSWERS = (codec.CONNACK, codec.SUBACK, codec.PINGRESP, codec.PUBACK)

    def __init__(self) -> None:
        self.open = 0
        self._sent = codec.Parser()
        self._received = codec.Parser()

    def sent(self, data: bytes) -> None:
        self._sent.feed(data)
        while (packet := self._sent.next()) is not None:
            kind, flags = packet[0], packet[1]
            if kind in self.REQUESTS or (kind == codec.PUBLISH and flags & 0x06):
                self.open += 1

    def received(self, data: bytes) -> None:
        self._received.feed(data)
        while (packet := self._received.next()) is not None:
            if packet[0] in self.ANSWERS and self.open:
                self.open -= 1


class _WatchedReader:
    def __init__(self, reader: asyncio.StreamReader, exchange: Exchange) -> None:
        self._reader = reader
        self._exchange = exchange

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        self._exchange.received(data)
        return data


class _WatchedWriter:
    def __init__(self, writer: asyncio.StreamWriter, exchange: Exchange) -> None:
        self._writer = writer
        self._exchange = exchange

    def write(self, data: bytes) -> None:
        self._exchange.sent(data)
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:  # drain, close, transport, ...
        return getattr(self._writer, name)


class VirtualLink:
    """Wi-Fi plus TCP: up unless the scenario cuts this node's network; real
    sockets to the real broker when up."""

    def __init__(self, sim: SimNode) -> None:
        self.sim = sim
        self.connections: list[tuple[asyncio.StreamWriter, Exchange]] = []
        self.connecting = 0

    def waiting(self) -> bool:
        """A connection being opened, or a request of an open one unanswered."""
        if self.connecting:
            return True
        return any(ex.open and not w.is_closing() for w, ex in self.connections)

    def isconnected(self) -> bool:
        return self.sim.network_up

    def rssi(self) -> int:
        return -58

    async def keep_up(self) -> None:
        while True:
            await asyncio.sleep(3600)

    async def open_connection(self, host: str, port: int) -> tuple[Any, Any]:
        if not self.sim.network_up:
            raise OSError("network unreachable (simulated outage)")
        # Resolve here, blocking: a lookup in asyncio's thread pool holds no
        # socket, so the virtual clock would race ahead while it runs.
        address = str(socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
        self.connecting += 1
        try:
            reader, writer = await asyncio.open_connection(address, port)
        finally:
            self.connecting -= 1
        exchange = Exchange()
        self.connections = [c for c in self.connections if not c[0].is_closing()]
        self.connections.append((writer, exchange))
        return _WatchedReader(reader, exchange), _WatchedWriter(writer, exchange)

    def cut(self) -> None:
        """The network is gone: open sockets die without a goodbye."""
        for writer, _ in self.connections:
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
        self.connections = []


class VirtualNtp:
    def __init__(self, fleet: Fleet, link: VirtualLink) -> None:
        self.fleet = fleet
        self.link = link

    async def unix_ms(self, host: str) -> int | None:
        if not self.link.isconnected():
            return None
        await asyncio.sleep(0.02)
        return self.fleet.unix_ms()


class VirtualWatchdog:
    def __init__(self) -> None:
        self.feeds = 0

    def feed(self) -> None:
        self.feeds += 1


class VirtualBoard:
    """The attributes firmware/app.py expects of `hw` (see drivers/board.py)."""

    def __init__(self, sim: SimNode, fleet: Fleet, cause: str) -> None:
        loop = asyncio.get_running_loop()
        self.sim = sim
        self.cause = cause
        self.clock = Clock(lambda: int(loop.time() * 1000), _diff, _sleep_ms)
        self.storage_root = str(sim.flash)
        self.config_path = str(Path(sim.flash) / "config.json")
        self.link = VirtualLink(sim)
        self.ntp = VirtualNtp(fleet, self.link)
        self.watchdog = VirtualWatchdog()
        # Repeatable per node and boot (str hashes are randomised per process).
        self.rng = random.Random(zlib.crc32(sim.name.encode()) ^ int(loop.time()))
        self.interlock: VirtualOutput | None = None
        self.extraction: VirtualOutput | None = None
        self.reader: VirtualReader | None = None
        self.running: VirtualInput | None = None
        self.adc: VirtualAdc | None = None
        self.uart: VirtualPzem | None = None
        self.thermometers: VirtualThermometers | None = None
        self.call: VirtualInput | None = None
        self.s0: VirtualS0 | None = None
        cfg = sim.config
        if cfg["role"] == "machine":
            self._machine(sim, fleet, cfg)
        elif cfg["role"] == "heating":
            self._heating(fleet, cfg)
        elif cfg["role"] == "meter":
            self._meter(fleet, cfg)

    def _machine(self, sim: SimNode, fleet: Fleet, cfg: dict[str, Any]) -> None:
        load = sim.load
        assert load is not None
        if sim.interlocked:
            self.interlock = VirtualOutput(lambda: load.advance(fleet.now_s()))
        self.extraction = VirtualOutput()
        self.reader = VirtualReader()
        if cfg.get("power") == "pzem":
            self.uart = VirtualPzem(lambda: load.watts(fleet.now_s()),
                                    lambda: load.energy_wh + sim.pzem_offset_wh)
        else:
            self.adc = VirtualAdc(load, fleet.now_s, cfg["clamp"])

    def _heating(self, fleet: Fleet, cfg: dict[str, Any]) -> None:
        building = fleet.building
        roms = {rom: name for name, rom in cfg["sensors"].items()}

        def read(rom: str) -> float | None:
            building.advance(fleet.now_s())
            name = roms.get(rom)
            if name == "t_flow":
                return building.flow
            if name == "t_return":
                return building.return_temp()
            if name and name.startswith("t_zone"):
                index = int(name[6:]) - 1
                if 0 <= index < len(building.zones):
                    return building.zones[index]
            return None

        def call() -> bool:
            building.advance(fleet.now_s())
            return building.call

        self.thermometers = VirtualThermometers(read)
        self.call = VirtualInput(call)

    def _meter(self, fleet: Fleet, cfg: dict[str, Any]) -> None:
        meter = fleet.meter
        if cfg.get("source") == "pzem":
            self.uart = VirtualPzem(lambda: meter.watts(fleet.now_s()),
                                    lambda: meter.energy_wh(fleet.now_s()))
        else:
            self.s0 = VirtualS0(meter, fleet.now_s, int(cfg["pulses_per_kwh"]))

    def heap(self) -> int:
        return SIM_HEAP_FREE

    def rand(self) -> float:
        return self.rng.random()

    def reset(self) -> None:
        self.sim.request_reset()

    def reset_cause(self) -> str:
        return self.cause

    def outputs_off(self) -> None:
        for out in (self.interlock, self.extraction):
            if out is not None:
                out.set(False)


def _diff(a: int, b: int) -> int:
    return a - b


def _sleep_ms(ms: int) -> Any:
    return asyncio.sleep(ms / 1000)
