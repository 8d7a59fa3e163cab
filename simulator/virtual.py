"""The board of a simulated node: the firmware's own drivers/board.py on
the device models of simulator/hardware.py, plus a network link with real
sockets to the real broker, the site's time server and a watchdog.

A `VirtualBoard` is rebuilt from scratch on every (virtual) power-on; only
the flash folder and the physical world outside (loads, building, meter,
the node's hardware settings) survive. It knows of the world only what the
node is wired to (`NodePlant`), never the fleet."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.drivers.board import Board
from firmware.drivers.ntp import WAIT_MS
from firmware.drivers.reader import PolledReader
from firmware.net import mqtt_codec as codec
from simulator.devices.flash import Flash
from simulator.devices.gpio import RatePulses
from simulator.hardware import LoopTime, NodeHardware
from simulator.plant import Building, MachineLoad, SiteServer, UtilityMeter

SIM_HEAP_FREE = 96_000  # reported as free heap; the real figure is measured under MicroPython


@dataclass
class NodePlant:
    """What one node is wired to: the clock, the site server, and its part
    of the plant (a machine's load, the building, the utility meter or a
    pulse generator on its S0 input)."""

    now_s: Callable[[], float]
    site: SiteServer
    load: MachineLoad | None = None
    building: Building | None = None
    meter: UtilityMeter | None = None
    pzem_offset_wh: float = 0.0
    s0_train: RatePulses | None = None

    def before_switch(self) -> None:
        """The interlock is about to move: the load's energy up to now first."""
        if self.load is not None:
            self.load.advance(self.now_s())


class FieldReader(PolledReader):
    """The firmware's PolledReader, except that polls of an empty field with
    a working chip are skipped until a card comes: each would answer None and
    change nothing, and a week of them (six million per reader) is what
    would cost the simulator its speed. One empty poll is made as on the
    board, which gives the poll cycle (its cost plus poll_ms); when a card
    comes, the reader waits for the next poll of that cycle, as the board
    would (the card is not read the moment it enters the field). Polling
    runs as on the board while a card is there or the chip is not ready.
    The model time of each new card's read goes to `hardware.read_at_us`."""

    def __init__(self, reader: PolledReader, hardware: NodeHardware) -> None:
        super().__init__(reader.chip, reader.poll_ms, reader.sleep_ms)
        self.field = hardware.field
        self.hardware = hardware
        self.port = hardware.port
        self.changed = asyncio.Event()
        self.field.on_change = self.changed.set
        self.read_at: float | None = None  # perf_counter when the last card was read

    async def poll(self) -> Any:
        if self.presence.current is not None or self.field.card is not None \
                or not self.chip.ready:
            return await self._read()
        began = self.port.now_us()
        self.changed.clear()
        uid = await self._read()
        if uid is not None or self.field.card is not None or not self.chip.ready:
            return uid
        cycle_us = self.port.now_us() - began + self.poll_ms * 1000
        await self.changed.wait()
        late_us = (self.port.now_us() - began) % cycle_us
        if late_us:
            await self.sleep_ms(-(-(cycle_us - late_us) // 1000))
        return await self._read()

    async def _read(self) -> Any:
        uid = await super().poll()
        if uid is not None and uid != self.presence.current:
            self.read_at = time.perf_counter()
            self.hardware.read_at_us = self.port.now_us()
        return uid


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


def pinned_context(ca_pem: str) -> ssl.SSLContext:
    """What drivers/wifi.py makes with MicroPython's `tls`: only the site CA
    trusted, the server's certificate required and its name checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=ca_pem)
    return context


class VirtualLink:
    """Wi-Fi plus TCP (or TLS): up unless the scenario cuts this node's
    network; real sockets to the real broker when up."""

    def __init__(self, network_up: Callable[[], bool]) -> None:
        self.network_up = network_up
        self.connections: list[tuple[asyncio.StreamWriter, Exchange]] = []
        self.connecting = 0
        self._tls: tuple[str, ssl.SSLContext] | None = None

    def waiting(self) -> bool:
        """A connection being opened, or a request of an open one unanswered."""
        if self.connecting:
            return True
        return any(ex.open and not w.is_closing() for w, ex in self.connections)

    def isconnected(self) -> bool:
        return self.network_up()

    def rssi(self) -> int:
        return -58

    async def keep_up(self) -> None:
        while True:
            await asyncio.sleep(3600)

    async def open_connection(self, host: str, port: int,
                              tls: tuple[str, str] | None = None) -> tuple[Any, Any]:
        """tls: (the site CA's certificate, the name the broker's must hold)."""
        if not self.network_up():
            raise OSError("network unreachable (simulated outage)")
        # Resolve here, blocking: a lookup in asyncio's thread pool holds no
        # socket, so the virtual clock would race ahead while it runs.
        address = str(socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
        options: dict[str, Any] = {}
        if tls is not None:
            if self._tls is None or self._tls[0] != tls[0]:
                self._tls = (tls[0], pinned_context(tls[0]))
            options = {"ssl": self._tls[1], "server_hostname": tls[1]}
        self.connecting += 1
        try:
            reader, writer = await asyncio.open_connection(address, port, **options)
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
    """drivers/ntp.py's answers: from the site server (the MQTT host, or
    `ntp_host` naming it) while the LAN is up, whatever the internet does
    (or "not synchronised" while the uplink is down, if the server is not
    set to serve its own clock: SiteServer); any other host is on the
    internet and answers only while the uplink is up. A query nobody
    answers costs the driver its WAIT_MS of polling, not of blocking."""

    def __init__(self, link: VirtualLink, site: SiteServer, site_host: str, device: str) -> None:
        self.link = link
        self.site = site
        self.site_host = site_host
        self.device = device

    async def unix_ms(self, host: str) -> int | None:
        if not self.link.isconnected():
            await asyncio.sleep(WAIT_MS / 1000)
            return None
        if host in ("", self.site_host):
            await asyncio.sleep(0.02)
            return self.site.ntp(self.device)
        if not self.site.internet_up:
            await asyncio.sleep(WAIT_MS / 1000)
            return None
        await asyncio.sleep(0.05)
        return self.site.unix_ms()


class VirtualWatchdog:
    """The ESP32's watchdog: not fed for its timeout, it resets the board."""

    def __init__(self, timeout_ms: int, reset: Callable[[], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.timeout_s = timeout_ms / 1000
        self.reset = reset
        self.feeds = 0
        self.fed_at = self.loop.time()
        self._timer = self.loop.call_later(self.timeout_s, self._check)

    def feed(self) -> None:
        self.feeds += 1
        self.fed_at = self.loop.time()

    def _check(self) -> None:
        left = self.fed_at + self.timeout_s - self.loop.time()
        if left <= 0:
            self.reset()
        else:
            self._timer = self.loop.call_later(left, self._check)

    def stop(self) -> None:
        self._timer.cancel()


class VirtualBoard(Board):
    """firmware/drivers/board.py on the node's device models: the outputs,
    reader, inputs and sensors are the firmware's drivers."""

    def __init__(self, config: dict[str, Any], plant: NodePlant, flash: Path, name: str,
                 network_up: Callable[[], bool], request_reset: Callable[[str], None],
                 cause: str, settings: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        # Repeatable per node and boot (str hashes are randomised per process).
        seed = zlib.crc32(name.encode()) ^ int(loop.time())
        self.hardware = NodeHardware(config, plant, LoopTime(loop), settings, seed & 0xFFFF)
        super().__init__(config, self.hardware.port)
        self.cause = cause
        self._request_reset = request_reset
        self.storage_root = str(flash)
        self.config_path = str(Path(flash) / "config.json")
        port = self.hardware.port
        # LittleFS on the flash chip: every write blocks the board (a C call).
        self.fs = Flash(float(settings.get("flash_erase_ms", 45.0)),
                        float(settings.get("flash_program_ms", 0.7)),
                        charge=lambda ms: port.busy_us(int(ms * 1000)))
        self.link = VirtualLink(network_up)
        mqtt = config.get("mqtt")
        site_host = str(mqtt.get("host", "")) if isinstance(mqtt, dict) else ""
        self.ntp = VirtualNtp(self.link, plant.site, site_host, name)
        timeout_ms = config.get("watchdog_ms")
        self.watchdog = VirtualWatchdog(timeout_ms if isinstance(timeout_ms, int) else 30000,
                                        lambda: request_reset("watchdog"))
        self.rng = random.Random(seed)

    def start_devices(self) -> None:
        super().start_devices()
        if self.reader is not None:
            self.reader = FieldReader(self.reader, self.hardware)

    def power_off(self) -> None:
        """The power is gone: the watchdog stops, the flash takes no more writes,
        the sockets die without a goodbye."""
        self.watchdog.stop()
        self.fs.off = True
        self.link.cut()

    def heap(self) -> int:
        return SIM_HEAP_FREE

    def rand(self) -> float:
        return self.rng.random()

    def reset(self) -> None:
        self._request_reset("soft_reset")

    def reset_cause(self) -> str:
        return self.cause
