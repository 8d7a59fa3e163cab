# The heating role: flow, return and zone temperatures from DS18B20 sensors,
# and the boiler's call-for-heat input counted as burner-demand seconds.
from firmware.logic.energy import OnTimer

CONVERT_MS = 750  # DS18B20 at 12 bits


class HeatingRole:
    name = "heating"
    slots = ("burn_ms",)

    def __init__(self, node, hw, cfg: dict):
        self.node = node
        self.hw = hw
        self.clock = hw.clock
        self.cfg = cfg
        self.burn = OnTimer()
        self.temps: dict = {}
        self.call = False
        self.sensor_faults = 0
        self.missing: list = []

    def restore(self, values: dict) -> None:
        self.burn = OnTimer(values["burn_ms"])

    def values(self) -> dict:
        return {"burn_ms": self.burn.ms}

    def energy_wh(self) -> int:
        return 0

    def counters(self) -> dict:
        return {"burn_s": self.burn.seconds}

    def readings(self) -> dict:
        out = {"call": 1 if self.call else 0}
        for name in self.temps:
            out[name] = self.temps[name]
        return out

    def command(self, op: str, args: dict) -> bool:
        return False

    def tasks(self) -> list:
        return [("call", self.call_loop), ("temperature", self.temp_loop)]

    async def call_loop(self) -> None:
        period = int(self.cfg["sample_ms"])
        last = self.clock.now_ms()
        while True:
            await self.clock.sleep_ms(period)
            now = self.clock.now_ms()
            # The state held over the last period counts, not the new one.
            self.burn.add(self.call, now - last)
            last = now
            self.call = bool(self.hw.call.value())
            self.node.maybe_save(now)

    async def temp_loop(self) -> None:
        period = int(self.cfg["temp_every_s"]) * 1000
        sensors = self.cfg["sensors"]
        therm = self.hw.thermometers
        while True:
            therm.convert()
            await self.clock.sleep_ms(CONVERT_MS)
            for name in sensors:
                value = therm.read(sensors[name])
                if value is None:
                    # Missing, CRC-failed or shorted: leave the reading out
                    # rather than send a stale or invented value.
                    self.sensor_faults += 1
                    self.temps.pop(name, None)
                    if name not in self.missing:
                        # Reported once when it goes, not on every read.
                        self.missing.append(name)
                        self.node.emit("fault", {"reason": "sensor", "detail": "%s %s: %s" % (
                            name, sensors[name], therm.error or "no reading")})
                else:
                    self.temps[name] = round(value, 2)
                    if name in self.missing:
                        self.missing.remove(name)
            await self.clock.sleep_ms(period - CONVERT_MS)
