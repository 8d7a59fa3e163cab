# Cumulative energy and on-time as integers: whole Wh plus a remainder in
# millijoules, so that nothing drifts over years of counting and every value
# stays a small int on the ESP32 (a float there has 24 bits of mantissa).
MJ_PER_WH = 3600000


class EnergyCounter:
    def __init__(self, wh: int = 0, rem_mj: int = 0):
        self.wh = wh
        self.rem_mj = rem_mj

    def add_mj(self, mj: int) -> None:
        if mj <= 0:
            return
        rem = self.rem_mj + mj
        if rem >= MJ_PER_WH:
            whole = rem // MJ_PER_WH
            self.wh += whole
            rem -= whole * MJ_PER_WH
        self.rem_mj = rem

    def add_power(self, watts: float, dt_ms: int) -> None:
        """Power held for dt_ms milliseconds; W x ms = mJ."""
        if watts > 0 and dt_ms > 0:
            self.add_mj(int(watts * dt_ms + 0.5))

    def add_wh(self, wh: int) -> None:
        if wh > 0:
            self.wh += wh


class OnTimer:
    """Seconds a condition was true, counted in ms so that 1 s samples add up."""

    def __init__(self, ms: int = 0):
        self.ms = ms

    def add(self, on: bool, dt_ms: int) -> None:
        if on and dt_ms > 0:
            self.ms += dt_ms

    @property
    def seconds(self) -> int:
        return self.ms // 1000


class RegisterDelta:
    """Turns a meter's own cumulative register (PZEM energy, S0 pulses) into
    increments: a decrease means the meter was reset or wrapped, and then the
    new value itself is the increment since the reset."""

    def __init__(self, start: int = -1):
        """start: the register's value at boot if known (an S0 count starts
        at 0), else -1 and the first reading is the baseline."""
        self.last = start

    def step(self, value: int) -> int:
        last = self.last
        self.last = value
        if last < 0:
            return 0
        if value >= last:
            return value - last
        return value
