"""A fleet of virtual nodes running the firmware, and the scenario driving it.

Each `SimNode` is one board: its config, its flash folder on the host, and,
while powered, a firmware `Node` built on a fresh `VirtualBoard`. A power
cut cancels the node's tasks without any goodbye and drops every object;
power-on builds new ones from the flash folder, exactly as a reset would."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware import config as fw_config
from firmware.app import Node
from firmware.main import start_outputs
from firmware.safemode import SafeMode
from protocol.badge import badge_hash, uid_from_hex
from simulator.devices.flash import PowerCut
from simulator.devices.gpio import RatePulses
from simulator.plant import Building, MachineLoad, PoweredRun, SiteServer, UtilityMeter
from simulator.scenario import Scenario
from simulator.virtual import NodePlant, VirtualBoard


class SimNode:
    def __init__(self, fleet: Fleet, spec: dict[str, Any], index: int) -> None:
        self.fleet = fleet
        self.name: str = spec["device"]
        self.spec = spec
        self.flash = fleet.workdir / self.name
        self.flash.mkdir(parents=True, exist_ok=True)
        self.config: dict[str, Any] = {}
        self.config_errors: list[str] = []
        self.network_up = True
        self.powered = False
        self.board: VirtualBoard | None = None
        self.node: Node | None = None
        self.safe: SafeMode | None = None
        self.task: asyncio.Task[None] | None = None
        self.boots = 0
        self.pzem_offset_wh = 1000.0 * index  # a meter's register does not start at 0
        self.load: MachineLoad | None = None
        if spec.get("role") == "machine":
            self.load = MachineLoad(spec.get("profile", "laser"), fleet.seed + index,
                                    self._enabled, self._run_ended)
        # Cards presented to this node's reader: (virtual s, card name or None).
        self.taps: list[tuple[float, str | None]] = []
        # A machine has an interlock relay (whose contacts may weld closed)
        # unless its config says none is fitted; then its own switch decides.
        self.interlocked = Scenario.interlocked(spec)
        # The node's hardware (simulator/hardware.py NodeHardware): which
        # faults it has survives power cuts, as the parts do.
        self.hardware_settings: dict[str, Any] = dict(spec.get("hardware") or {})
        self.s0_train: RatePulses | None = None  # a pulse generator on S0 (`s0_hz`)
        # (file name, off_s): the power goes at the next flash write of that file
        self.cut_at_write: tuple[str, float] | None = None
        # (card in the field, card read) -> interlock closed, model us, of earlier boots
        self.latencies_us: list[tuple[int, int]] = []
        self.welded = False
        self.switched_on = False
        self._write_config()

    def _enabled(self) -> bool:
        """Whether the machine has power: its switch, and its interlock if fitted."""
        if not self.interlocked:
            return self.switched_on
        board = self.board
        relay = board.hardware.relay if board is not None else None
        return (relay is not None and relay.energised) or self.welded

    def _write_config(self) -> None:
        """The config file on the board's flash: written once, as at install; a
        config file given to the run (Scenario.use_configs) is copied over it, as
        an installer does with `mpremote cp`."""
        path = self.flash / "config.json"
        if not path.exists() or "config_file" in self.spec:
            path.write_text(json.dumps(self.fleet.scenario.node_config(self.spec)))

    # -- power ----------------------------------------------------------------

    def power_on(self, cause: str = "power_on") -> None:
        if self.powered:
            return
        self.powered = True
        self.boots += 1
        text = (self.flash / "config.json").read_text()
        self.config, self.config_errors = fw_config.parse(text)
        hz = self.hardware_settings.get("s0_hz")
        if hz is not None and self.s0_train is None:  # from a second after the first power-on
            self.s0_train = RatePulses(float(hz), int(self.fleet.now_s() * 1e6) + 1_000_000)
        board = VirtualBoard(self.config, self._plant(), self.flash, self.name,
                             lambda: self.network_up, self.request_reset, cause,
                             self.hardware_settings)
        self.board = board
        board.fs.on_cut = self._flash_power_lost
        if self.cut_at_write is not None:
            board.fs.cut_file = self.cut_at_write[0]
        self.config_errors = start_outputs(board, self.config_errors)  # as on the board
        if self.config_errors:
            self.safe = SafeMode(self.config, self.config_errors, board)
            self.task = asyncio.get_running_loop().create_task(self.safe.run(), name=self.name)
            return
        board.start_devices()
        try:
            node = Node(self.config, board)  # boot writes the flash (counters)
        except PowerCut:
            return  # the power went again during the boot (unplug during_write)
        self.node = node
        self.task = asyncio.get_running_loop().create_task(node.run(), name=self.name)

    def _plant(self) -> NodePlant:
        fleet = self.fleet
        role = self.config.get("role")
        return NodePlant(fleet.now_s, fleet.site, load=self.load,
                         building=fleet.building if role == "heating" else None,
                         meter=fleet.meter if role == "meter" else None,
                         pzem_offset_wh=self.pzem_offset_wh, s0_train=self.s0_train)

    def power_cut(self) -> None:
        """Power gone: tasks stop mid-step, RAM is lost, sockets die silently."""
        if not self.powered:
            return
        if self.load is not None:
            # The de-energised interlock opens (dropping the board does it).
            self.load.advance(self.fleet.now_s())
        if self.task is not None:
            self.task.cancel()
        if self.board is not None:
            self.board.power_off()
            self.latencies_us.extend(self.board.hardware.latencies_us)
        self.powered = False
        self.task = None
        self.node = None
        self.safe = None
        self.board = None

    def request_reset(self, cause: str) -> None:
        """machine.reset() from the firmware (reboot or new config, cause
        "soft_reset"), or the watchdog's reset ("watchdog")."""
        loop = asyncio.get_running_loop()
        board = self.board

        def reset() -> None:
            if self.board is board:  # not after a power cut meanwhile
                self.power_cut()
                self.power_on(cause)

        loop.call_soon(reset)

    def unplug(self, off_s: float, during_write: str | None = None) -> None:
        """The power goes for off_s seconds: now, or at the node's next
        flash write of the file `during_write` ("*": of any file), which
        then does not happen (simulator/devices/flash.py)."""
        if during_write is None:
            self.power_cut()
            asyncio.get_running_loop().call_later(off_s, self.power_on)
            return
        self.cut_at_write = (during_write, off_s)
        if self.board is not None:
            self.board.fs.cut_file = during_write

    def _flash_power_lost(self) -> None:
        if self.cut_at_write is None:
            return
        off_s = self.cut_at_write[1]
        self.cut_at_write = None
        self.power_cut()
        asyncio.get_running_loop().call_later(off_s, self.power_on)

    # -- network --------------------------------------------------------------

    def set_network(self, up: bool) -> None:
        self.network_up = up
        if not up and self.board is not None:
            self.board.link.cut()

    # -- the machine ------------------------------------------------------------

    def switch(self, on: bool) -> None:
        """Someone works the machine's own switch (machines without interlock)."""
        if self.load is not None:
            self.load.advance(self.fleet.now_s())
        self.switched_on = on

    def plug_probe(self, sensor: str, plugged: bool) -> None:
        """A DS18B20 probe of a heating node unplugged or plugged back."""
        unplugged = [n for n in self.hardware_settings.get("unplugged") or [] if n != sensor]
        if not plugged:
            unplugged.append(sensor)
        self.hardware_settings["unplugged"] = unplugged
        if self.board is not None and sensor in self.board.hardware.sensors:
            self.board.hardware.sensors[sensor].connected = plugged

    def set_s0_rate(self, hz: float) -> None:
        """The pulse generator on the S0 input turned to hz (0: stopped)."""
        if self.s0_train is not None:
            self.s0_train.set_rate(hz, int(self.fleet.now_s() * 1e6))

    def s0_emitted(self) -> int:
        """Pulses the generator on the S0 input has given so far."""
        if self.s0_train is None:
            return 0
        return self.s0_train.count(int(self.fleet.now_s() * 1e6))

    def weld(self) -> None:
        """The interlock relay's contacts weld closed: the node still believes
        it opens them, the machine keeps its power."""
        if self.load is not None:
            self.load.advance(self.fleet.now_s())
        self.welded = True

    # -- people ---------------------------------------------------------------

    def tap(self, uid: bytes, hold_s: float = 1.0) -> None:
        """A member holds a card to the reader for hold_s seconds."""
        board = self.board
        if board is None or board.reader is None:
            return
        self.taps.append((self.fleet.now_s(), self.fleet.card_names.get(uid)))
        board.hardware.card(uid)
        asyncio.get_running_loop().call_later(hold_s, self._remove, board)

    def _remove(self, board: VirtualBoard) -> None:
        if board is self.board:
            board.hardware.card(None)

    def badge_latencies_us(self) -> list[tuple[int, int]]:
        """(card in the field, card read) -> interlock closed, model us, for
        every session start by badge since the first power-on."""
        board = self.board
        return self.latencies_us + (board.hardware.latencies_us if board is not None else [])

    def last_latency_ms(self) -> float | None:
        """Card read to interlock closed, wall-clock ms, for the last allowed badge."""
        board = self.board
        if board is None or board.reader is None:
            return None
        read_at, closed_at = board.reader.read_at, board.hardware.closed_at
        if read_at is None or closed_at is None or closed_at < read_at:
            return None
        return (closed_at - read_at) * 1000

    # -- ground truth -----------------------------------------------------------

    def _run_ended(self, run: PoweredRun) -> None:
        """The machine lost its power: the run goes to the card presented last
        before it began (the one that opened the interlock, or the member who
        tapped in before switching on a machine without one)."""
        card = next((name for at, name in reversed(self.taps) if at <= run.start_s), None)
        self.fleet.record_usage(self.name, card, run)

    def true_energy_wh(self) -> float:
        if self.load is None:
            return 0.0
        self.load.advance(self.fleet.now_s())
        return self.load.energy_wh


class Fleet:
    def __init__(self, scenario: Scenario, workdir: Path, seed: int = 1) -> None:
        self.scenario = scenario
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.start_unix_ms = scenario.start_unix_ms
        self.building = Building(scenario.zones, fail_at_s=scenario.boiler_fail_at_s,
                                 recover_at_s=scenario.boiler_recover_at_s)
        self.site = SiteServer(self.unix_ms, self.now_s, ntp_local=scenario.ntp_local)
        self.nodes: dict[str, SimNode] = {}
        for index, spec in enumerate(scenario.nodes):
            self.nodes[spec["device"]] = SimNode(self, spec, index)
        loads = [n.load for n in self.nodes.values() if n.load is not None]
        self.meter = UtilityMeter(scenario.base_load_w, loads)
        self.rng = random.Random(seed)
        self.card_names = {uid_from_hex(uid): name for name, uid in scenario.members.items()}
        # Each machine's powered runs with the card that opened them (ground
        # truth from the load models); `usage_sink` gets each as it ends.
        self.usage: list[dict[str, Any]] = []
        self.usage_sink: Callable[[dict[str, Any]], None] | None = None
        self.log: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.summary_lines: list[str] = []

    # -- time -------------------------------------------------------------------

    def now_s(self) -> float:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        return self.loop.time()

    def unix_ms(self) -> int:
        return self.start_unix_ms + int(self.now_s() * 1000)

    async def sleep_until(self, t_s: float) -> None:
        delay = t_s - self.now_s()
        if delay > 0:
            await asyncio.sleep(delay)

    # -- control ----------------------------------------------------------------

    def start(self) -> None:
        for node in self.nodes.values():
            node.power_on()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.power_cut()

    async def shutdown(self) -> None:
        """Power every node off and let the cancelled tasks finish."""
        self.summary_lines = self.summary()
        # Only the nodes' top tasks are cancelled; they cancel their own
        # children. Cancelling an inner task of asyncio.wait_for as well can
        # make Python 3.11's wait_for swallow the outer cancellation.
        tasks = [n.task for n in self.nodes.values() if n.task is not None]
        self.stop()
        for sim in self.nodes.values():  # the machines' last runs end with the simulation
            if sim.load is not None:
                sim.load.finish_run(self.now_s())
        await asyncio.gather(*tasks, return_exceptions=True)
        for _ in range(3):  # let the receivers cancelled on the way finish too
            await asyncio.sleep(0)

    def summary(self) -> list[str]:
        lines = [f"virtual time {self.now_s():.0f} s"]
        for sim in self.nodes.values():
            node = sim.node
            if node is None:
                lines.append(f"{sim.name}: off ({'; '.join(sim.config_errors)})")
                continue
            mqtt = node.mqtt
            lines.append(
                f"{sim.name}: boots {sim.boots}, sent {mqtt.sent}, outbox {node.outbox.pending()}, "
                f"dropped {node.outbox.dropped}, reconnects {mqtt.reconnects}, "
                f"retransmits {mqtt.retransmits}, "
                f"last error {mqtt.last_error or '-'}"
            )
        return lines

    def quiet(self) -> bool:
        """No node is opening a connection or waiting for its broker's answer:
        for VirtualTimeLoop(quiet=...), which then lets the clock jump."""
        return not any(n.board is not None and n.board.link.waiting() for n in self.nodes.values())

    def fail_boiler(self) -> None:
        """The boiler fails now, as the heating schedule steps up (plant.Building.fail_at_call)."""
        self.building.fail_at_call(self.now_s())
        self.log.append(f"t={self.now_s():.0f}s boiler fails")

    def record_usage(self, device: str, card: str | None, run: PoweredRun) -> None:
        start_ms = self.start_unix_ms + round(run.start_s * 1000)
        end_ms = self.start_unix_ms + round(run.end_s * 1000)
        record = {"device": device, "card": card, "start_ms": start_ms, "end_ms": end_ms,
                  "wh": round(run.wh, 3)}
        self.usage.append(record)
        if self.usage_sink is not None:
            self.usage_sink(record)

    def node(self, name: str) -> SimNode:
        if name not in self.nodes:
            raise KeyError(f"no node {name!r} in the scenario")
        return self.nodes[name]

    def member_uid(self, member: str) -> bytes:
        return uid_from_hex(self.scenario.members[member])

    def member_hash(self, member: str) -> str:
        return badge_hash(self.scenario.badge_key, self.member_uid(member))

    def tap(self, device: str, member: str, hold_s: float = 1.0) -> None:
        self.node(device).tap(self.member_uid(member), hold_s)

    async def apply(self, action: dict[str, Any]) -> None:
        """One scenario event (see scenario.py for the kinds)."""
        self.log.append(f"t={self.now_s():.0f}s {action}")
        if "tap" in action:
            self.tap(action["device"], action["tap"], float(action.get("hold_s", 1.0)))
        elif "outage" in action:
            node = self.node(action["outage"])
            node.set_network(False)
            asyncio.get_running_loop().call_later(float(action["for_s"]), node.set_network, True)
        elif "reboot" in action:
            node = self.node(action["reboot"])
            node.power_cut()
            node.power_on()
        elif "unplug" in action:
            self.node(action["unplug"]).unplug(float(action["for_s"]), action.get("during_write"))
        elif "unplug_probe" in action:
            node = self.node(action["unplug_probe"])
            node.plug_probe(action["sensor"], False)
            asyncio.get_running_loop().call_later(float(action["for_s"]), node.plug_probe,
                                                  action["sensor"], True)
        elif "internet" in action:
            self.site.internet_up = False
            asyncio.get_running_loop().call_later(float(action["for_s"]), self._internet_back)
        elif "s0_rate" in action:
            self.node(action["s0_rate"]).set_s0_rate(float(action["hz"]))
        elif "switch" in action:
            self.node(action["switch"]).switch(bool(action["on"]))
        elif "weld" in action:
            self.node(action["weld"]).weld()

    def _internet_back(self) -> None:
        self.site.internet_up = True

    async def run_scenario(self, duration_s: float | None = None) -> None:
        """Start the nodes, play the timed events and the members' sessions,
        until the scenario's duration (or `duration_s`) has passed."""
        end = self.now_s() + (duration_s if duration_s is not None else self.scenario.duration_s)
        self.start()
        actions = sorted(self.scenario.events + self._member_sessions(end),
                         key=lambda a: float(a["at_s"]))
        for action in actions:
            if float(action["at_s"]) > end:
                break
            await self.sleep_until(float(action["at_s"]))
            await self.apply(action)
        await self.sleep_until(end)

    def _member_sessions(self, end: float) -> list[dict[str, Any]]:
        """Members using the machines: per machine node with `sessions_per_day`,
        tap in at random working hours (08:00-18:00 UTC of each day the run
        covers), tap out after 20-90 minutes; on a machine without interlock
        they also switch it on after tapping in and off before tapping out."""
        actions: list[dict[str, Any]] = []
        members = list(self.scenario.members)
        # Virtual second of the UTC midnight that begins the run's first day.
        first_day = -float((self.start_unix_ms // 1000) % 86400)
        for spec in self.scenario.nodes:
            per_day = int(spec.get("sessions_per_day", 0))
            users = spec.get("users") or members
            if not per_day or not users:
                continue
            day = first_day
            while day < end:
                starts = sorted(
                    self.rng.uniform(day + 8 * 3600, day + 18 * 3600) for _ in range(per_day)
                )
                free_at = 0.0
                for at in starts:
                    at = max(at, free_at + 300)
                    length = self.rng.uniform(1200, 5400)
                    member = self.rng.choice(users)
                    device = spec["device"]
                    free_at = at + length
                    if at < 60:  # before the run began (or its first minute): not played
                        continue
                    actions.append({"at_s": at, "tap": member, "device": device})
                    actions.append({"at_s": at + length, "tap": member, "device": device})
                    if not self.nodes[device].interlocked:
                        actions.append({"at_s": at + 5, "switch": device, "on": True})
                        actions.append({"at_s": at + length - 5, "switch": device, "on": False})
                day += 86400
        return actions


