"""Each simulated node's hardware, built from the device models of
simulator/devices and wired to the plant: the clamp on its machine's load,
the probes on the building's pipes and rooms, the S0 output on the utility
meter. The models are the node's physical parts and outlive a power cut
(their volatile state is reset at power-on); the firmware's own drivers run
on them through a `Port` whose time is the event loop's."""

from __future__ import annotations

import asyncio
import time
from typing import Any


class LoopTime:
    """Model time for one node's port: the event loop's clock, plus the time
    the node spent blocked (bus transfers, flash writes, blocking waits of
    its drivers) beyond it. A blocked board is late, not its neighbours:
    this node's time runs ahead of the loop's clock, and its sleeps end that
    much later (timers fire late, as on a board that was busy), while the
    other nodes go on at the loop's time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._time = loop.time
        self._cursor = 0

    def world_us(self) -> int:
        """The loop's time: when things outside the board happen."""
        return int(self._time() * 1_000_000)

    def now_us(self) -> int:
        loop_us = int(self._time() * 1_000_000)
        if loop_us > self._cursor:
            self._cursor = loop_us
        return self._cursor

    def advance_us(self, us: int) -> None:
        self._cursor = self.now_us() + int(us)

    def sleep(self, port: Any, ms: int) -> Any:
        return _sleep(self, port, ms)


async def _sleep(timebase: LoopTime, port: Any, ms: int) -> None:
    port.scheduler_point()
    ahead_us = timebase.now_us() - timebase.world_us()  # still busy until then
    await asyncio.sleep((ahead_us + ms * 1000) / 1_000_000)
    port.sync()


class NodeHardware:
    """The device models of one node for one power-on, on a fresh `Port`
    (the ESP32's pin and bus state does not survive a reset; the plant and
    the `settings` do). `settings` is the scenario node's "hardware" section:

    adc_noise_lsb (4), adc_offset_lsb (6), adc_gain_error (0.07): the clamp's ADC;
    relay_low_trigger (true): the relay module's kind;
    pn532_asleep (false): the PN532 sleeps at power-on;
    mfrc522_alive (true): the RC522 answers on SPI;
    pzem_delay_ms ([30, 250]): the PZEM's reply delay;
    unplugged ([]): DS18B20 sensors (reading names) not connected;
    probe_bit_error_rate (0): per byte read, on every probe;
    onewire_stuck_low (false): the 1-Wire bus shorted to ground;
    pcnt (true): the port has esp32.PCNT (false: S0 by soft interrupts);
    s0_hz (none): a pulse generator on the S0 input at this rate instead of
    the utility meter (the plant's `s0_train`, which outlives power cuts);
    flash_erase_ms (45), flash_program_ms (0.7): the flash chip (VirtualBoard).

    `latencies_us`: for each time the interlock's relay module energised
    with a card in the reader's field, (model time from the card entering
    the field, from its read by the reader (`read_at_us`, set by the
    simulator's FieldReader)) to the contacts closing."""

    def __init__(self, config: dict[str, Any], plant: Any, timebase: LoopTime,
                 settings: dict[str, Any], seed: int) -> None:
        from simulator.devices import adc, gpio, iso14443, mfrc522, onewire, pn532, port, pzem

        self.settings = settings
        self.port = port.Port(timebase, seed=seed, pcnt=bool(settings.get("pcnt", True)))
        p = self.port
        self.field: Any = None
        self.relay: Any = None
        self.fan: Any = None
        self.reader_chip: Any = None
        self.sensors: dict[str, Any] = {}
        self.bus: Any = None
        self.pzem: Any = None
        self.s0: Any = None
        self.closed_at: float | None = None  # perf_counter when the interlock last closed
        self._world_us = timebase.world_us
        self.latencies_us: list[tuple[int, int]] = []
        self.read_at_us: int | None = None
        self._before_switch = plant.before_switch
        pins = config.get("pins") or {}
        role = config.get("role")
        now_s = plant.now_s
        if role == "machine":
            load = plant.load
            low = bool(settings.get("relay_low_trigger", True))
            if pins.get("relay", -1) >= 0:
                self.relay = gpio.RelayModule(p, pins["relay"], low, self._switching)
            if pins.get("extraction", -1) >= 0:
                self.fan = gpio.RelayModule(p, pins["extraction"], low)
            if config.get("reader") == "pn532":
                chip: Any = pn532.Pn532Model(p, asleep=bool(settings.get("pn532_asleep", False)))
                chip.attach()
            else:
                chip = mfrc522.Mfrc522Model(p, alive=bool(settings.get("mfrc522_alive", True)))
                chip.attach(pins["rc522_cs"], pins["rc522_rst"])
            self.reader_chip = chip
            self.field = chip.field
            if pins.get("running", -1) >= 0:
                gpio.OptoInput(p, pins["running"], lambda t: load.watts(t / 1e6) > 0)
            if config.get("power") == "pzem":
                self.pzem = self._pzem(pzem, plant, pins, settings,
                                       lambda t: load.watts(t / 1e6),
                                       lambda t: load.energy_wh + plant.pzem_offset_wh)
            else:
                clamp = config["clamp"]
                volts = float(clamp["volts"]) * float(clamp["pf"])
                signal = adc.ClampSignal(lambda t: load.amps(t / 1e6, volts),
                                         1.0 / float(clamp["amps_per_volt"]))
                adc.EspAdc(signal, noise_lsb=float(settings.get("adc_noise_lsb", 4.0)),
                           offset_lsb=float(settings.get("adc_offset_lsb", 6.0)),
                           gain_error=float(settings.get("adc_gain_error", 0.07)),
                           seed=seed).attach(p, pins["adc_current"])
        elif role == "heating":
            building = plant.building
            self.bus = onewire.OneWireBus(p, pins["onewire"])
            self.bus.stuck_low = bool(settings.get("onewire_stuck_low", False))
            unplugged = settings.get("unplugged") or []
            for name, rom in (config.get("sensors") or {}).items():
                sensor = onewire.Ds18b20(rom, _probe(building, name, now_s))
                sensor.connected = name not in unplugged
                sensor.bit_error_rate = float(settings.get("probe_bit_error_rate", 0.0))
                self.sensors[name] = self.bus.add(sensor)

            def calling(t_us: int) -> bool:
                building.advance(t_us / 1e6)
                return bool(building.call)

            gpio.OptoInput(p, pins["call"], calling)
        elif role == "meter":
            meter = plant.meter
            if config.get("source") == "pzem":
                self.pzem = self._pzem(pzem, plant, pins, settings,
                                       lambda t: meter.watts(t / 1e6),
                                       lambda t: meter.energy_wh(t / 1e6))
            else:
                ppk = int(config["pulses_per_kwh"])
                starts = plant.s0_train or gpio.CountedPulses(
                    lambda t: int(meter.energy_wh(t / 1e6) * ppk / 1000))
                self.s0 = gpio.S0Output(p, pins["s0"], starts)
        self.iso14443 = iso14443

    def _pzem(self, pzem: Any, plant: Any, pins: dict[str, Any], settings: dict[str, Any],
              watts: Any, energy_wh: Any) -> Any:
        delay = settings.get("pzem_delay_ms") or (30, 250)

        def readings(t_us: int) -> tuple[float, float, float, float, float, float]:
            w = watts(t_us)
            return 230.0, w / 230.0, w, energy_wh(t_us), 50.0, 1.0

        model = pzem.PzemModel(self.port, readings, delay_ms=tuple(delay))
        model.attach(pins["uart_rx"])
        return model

    def _switching(self) -> None:
        self._before_switch()
        if self.relay is not None and not self.relay.energised:
            self.closed_at = time.perf_counter()
            field = self.field
            if field is not None and field.card is not None and field.placed_at_us is not None:
                now = self.port.now_us()
                read = self.read_at_us if self.read_at_us is not None else now
                self.latencies_us.append((now - field.placed_at_us, now - read))

    def card(self, uid: bytes | None) -> None:
        """A member holds a card to the reader (None: takes it away)."""
        if self.field is None:
            return
        if uid is None:
            self.field.remove()
        else:
            # At the world's time: a board busy meanwhile notices it later.
            self.field.put(self.iso14443.Card(uid), self._world_us())


def _probe(building: Any, name: str, now_s: Any) -> Any:
    def temperature() -> float:
        building.advance(now_s())
        if name == "t_flow":
            return float(building.flow)
        if name == "t_return":
            return float(building.return_temp())
        if name.startswith("t_zone"):
            index = int(name[6:]) - 1
            if 0 <= index < len(building.zones):
                return float(building.zones[index])
        return 20.0
    return temperature
