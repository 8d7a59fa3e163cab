# The machine role: badge reader -> local access decision -> interlock, plus
# the machine's energy and running time.
from firmware.logic.acl import Decider
from firmware.logic.energy import EnergyCounter, OnTimer
from firmware.logic.session import Outputs, Session
from firmware.roles.power import ClampPower, PzemPower
from protocol.badge import badge_hash, parse_key

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

class MachineRole:
    name = "machine"
    slots = ("wh", "rem_mj", "on_ms", "sid")

    def __init__(self, node, hw, cfg: dict):
        self.node = node
        self.hw = hw
        self.clock = hw.clock
        self.cfg = cfg
        self.key = parse_key(cfg["badge_key"])
        self.energy = EnergyCounter()
        self.on = OnTimer()
        self.power: Any = None
        if cfg["power"] == "pzem":
            self.power = PzemPower(hw.uart, int(cfg["pzem_address"]))
        else:
            self.power = ClampPower(hw.adc, hw.clock, cfg["clamp"])
        self.decider = Decider(node.acl_cache.load(node.downlink_key), cfg.get("master") or ())
        self.session = Session(
            self.decider, Outputs(hw.interlock, hw.extraction), node.emit, cfg
        )
        self.session.counters = self.counters
        self.watts = 0.0
        self.amps = 0.0
        self.running = False
        self.meter_faults = 0

    # -- persistence --------------------------------------------------------

    def restore(self, values: dict) -> None:
        self.energy = EnergyCounter(values["wh"], values["rem_mj"])
        self.on = OnTimer(values["on_ms"])
        self.session.sid = values["sid"]
        # Power came back: the interlock starts open, whatever it was.
        self.session.outputs.set_interlock(False)
        self.session.outputs.set_extraction(False)

    def values(self) -> dict:
        return {"wh": self.energy.wh, "rem_mj": self.energy.rem_mj, "on_ms": self.on.ms,
                "sid": self.session.sid}

    def energy_wh(self) -> int:
        return self.energy.wh

    # -- messages -----------------------------------------------------------

    def counters(self) -> dict:
        return {"wh": self.energy.wh, "on_s": self.on.seconds}

    def readings(self) -> dict:
        out = {"w": round(self.watts, 1), "a": round(self.amps, 3),
               "running": 1 if self.running else 0}
        if self.hw.interlock is not None:  # no relay fitted: nothing to report
            out["relay"] = 1 if self.hw.interlock.value() else 0
        return out

    def command(self, op: str, args: dict) -> bool:
        if op == "relay_off":
            self.session.force_off(self.clock.now_ms(), "remote")
            return True
        return False

    # -- tasks --------------------------------------------------------------

    def tasks(self) -> list:
        return [("sample", self.sample_loop), ("reader", self.reader_loop)]

    async def sample_loop(self) -> None:
        period = int(self.cfg["sample_ms"])
        last = self.clock.now_ms()
        running_pin = self.hw.running
        while True:
            await self.clock.sleep_ms(period)
            watts, amps, meter_wh = await self.power.sample()
            now = self.clock.now_ms()
            dt = now - last
            last = now
            if watts < 0:
                # Meter did not answer: no energy is invented; the register
                # delta catches up when it answers again.
                self.meter_faults += 1
                if self.meter_faults == 1:
                    self.node.emit("fault", {"reason": "meter", "detail": self.power.last_error})
                continue
            self.meter_faults = 0
            self.watts = watts
            self.amps = amps
            if self.power.billing_register:
                self.energy.add_wh(meter_wh)
            else:
                self.energy.add_power(watts, dt)
            if running_pin is not None:
                self.running = bool(running_pin.value())
            else:
                self.running = watts >= self.session.idle_w
            self.on.add(self.running, dt)
            self.session.tick(now, watts)
            self.node.maybe_save(now)

    def _reader_fault(self, detail: str) -> None:
        self.node.emit("fault", {"reason": "reader", "detail": detail})

    async def reader_loop(self) -> None:
        reader = self.hw.reader
        reader.on_fault = self._reader_fault  # once per working -> failing change
        current = None
        while True:
            uid = await reader.wait_change(current)
            current = uid
            now = self.clock.now_ms()
            if uid is None:
                self.session.card_removed(now)
                continue
            self.session.badge_read(badge_hash(self.key, uid), now)
