# The building meter role: S0 pulses of the utility meter (debounced in the
# driver), or a Modbus energy meter. Energy is what the meter says, not an
# integration, so it matches the utility's bill.
from firmware.logic.energy import RegisterDelta
from firmware.logic.pulses import watts_from_pulses, wh_from_pulses
from firmware.roles.power import PzemPower

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

class MeterRole:
    name = "meter"
    slots = ("pulses", "wh")

    def __init__(self, node, hw, cfg: dict):
        self.node = node
        self.hw = hw
        self.clock = hw.clock
        self.cfg = cfg
        self.ppk = int(cfg["pulses_per_kwh"])
        self.s0 = cfg["source"] == "s0"
        self.pzem: Any = None if self.s0 else PzemPower(hw.uart, int(cfg["pzem_address"]))
        self.delta = RegisterDelta(0)
        self.pulses = 0
        self.wh = 0
        self.watts = 0.0
        self._window = (0, 0)  # (pulses, ms) at the last telemetry

    def restore(self, values: dict) -> None:
        self.pulses = values["pulses"]
        self.wh = values["wh"]
        self._window = (self.pulses, self.clock.now_ms())

    def values(self) -> dict:
        return {"pulses": self.pulses, "wh": self.wh}

    def energy_wh(self) -> int:
        return self.wh

    def counters(self) -> dict:
        return {"wh": self.wh, "pulses": self.pulses}

    def readings(self) -> dict:
        if self.s0:
            # Average over the telemetry period: one pulse per Wh is too coarse
            # for a per-second figure.
            now = self.clock.now_ms()
            p0, t0 = self._window
            self.watts = watts_from_pulses(self.pulses - p0, now - t0, self.ppk)
            self._window = (self.pulses, now)
        return {"w": round(self.watts, 1)}

    def command(self, op: str, args: dict) -> bool:
        return False

    def tasks(self) -> list:
        return [("sample", self.sample_loop)]

    async def sample_loop(self) -> None:
        period = int(self.cfg["sample_ms"])
        while True:
            await self.clock.sleep_ms(period)
            if self.s0:
                self.pulses += self.delta.step(self.hw.s0.count())
                self.wh = wh_from_pulses(self.pulses, self.ppk)
            else:
                watts, _, d_wh = await self.pzem.sample()
                if watts >= 0:
                    self.watts = watts
                    self.wh += d_wh
            self.node.maybe_save(self.clock.now_ms())
