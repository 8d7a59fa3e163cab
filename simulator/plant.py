"""The physical world of the simulation: machine loads, the building and its
boiler, the utility meter. Each model integrates its own ground truth exactly
(energy in Wh, from piecewise-constant loads), which the tests compare with
what arrives in InfluxDB."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

# Watts while busy and while idle, and the spans (s) of each, drawn uniformly.
PROFILE_PHASES = {
    "laser": ((1650.0, (300, 1200)), (150.0, (120, 600))),  # cutting jobs, standby
    "compressor": ((2200.0, (60, 120)), (0.0, (120, 400))),  # motor runs, rests
    "kiln": ((3000.0, (120, 480)), (0.0, (60, 240))),  # the controller cycles the elements
}
PROFILES = tuple(PROFILE_PHASES)


@dataclass(frozen=True)
class PoweredRun:
    """One span during which a machine had power (interlock closed, or its own
    switch on), and the energy its load drew in it: the ground truth of a
    session's energy, from the load model alone."""

    start_s: float
    end_s: float
    wh: float


class MachineLoad:
    """A machine's electrical load over virtual time.

    laser: standby while its interlock is closed, cutting jobs of 5-20 min
    with pauses of 2-10 min; compressor: motor runs 60-120 s, rests
    120-400 s; kiln: elements on 2-8 min, off 1-4 min; each whenever enabled.
    Loads are piecewise constant; `advance` integrates them exactly up to a
    time, and must be called before the interlock or the switch moves (the
    relay module's model calls it, simulator/hardware.py), so that each
    powered span (`runs`) begins and ends exactly at its switching instant."""

    def __init__(self, profile: str, seed: int, enabled: Callable[[], bool],
                 on_run: Callable[[PoweredRun], None] | None = None) -> None:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
        self.profile = profile
        self.rng = random.Random(seed)
        self.enabled = enabled
        self.on_run = on_run
        self.t = 0.0
        self.energy_wh = 0.0
        self._busy = True
        self._next_change = 0.0
        self._next_phase(0.0)  # starts idle
        self._run_from: tuple[float, float] | None = None  # (start, energy then) while powered

    def _phase_power(self) -> float:
        busy, idle = PROFILE_PHASES[self.profile]
        return busy[0] if self._busy else idle[0]

    def _next_phase(self, at: float) -> None:
        self._busy = not self._busy
        busy, idle = PROFILE_PHASES[self.profile]
        low, high = (busy if self._busy else idle)[1]
        self._next_change = at + self.rng.uniform(low, high)

    def _note_power(self, on: bool) -> None:
        """A change of power since the last advance happened at self.t (the
        switch advanced the load to its instant first)."""
        if on and self._run_from is None:
            self._run_from = (self.t, self.energy_wh)
        elif not on and self._run_from is not None:
            start, wh = self._run_from
            self._run_from = None
            if self.on_run is not None:
                self.on_run(PoweredRun(start, self.t, self.energy_wh - wh))

    def finish_run(self, t: float) -> None:
        """The end of the simulation: a run still powered ends here."""
        self.advance(t)
        if self._run_from is not None:
            self._note_power(False)

    def power_at_current(self) -> float:
        return self._phase_power() if self.enabled() else 0.0

    def advance(self, t: float) -> None:
        self._note_power(self.enabled())
        while self.t < t:
            step_end = min(t, self._next_change) if self._next_change > self.t else t
            self.energy_wh += self.power_at_current() * (step_end - self.t) / 3600.0
            self.t = step_end
            if self.t >= self._next_change:
                self._next_phase(self.t)

    def watts(self, t: float) -> float:
        self.advance(t)
        return self.power_at_current()

    def amps(self, t: float, volts: float) -> float:
        return self.watts(t) / volts


class Building:
    """Zones heated by one boiler through radiators; a thermostat in zone 1
    calls for heat. A first-order model per zone, enough to show the
    temperatures follow the boiler, and fall when it fails."""

    def __init__(self, zones: int, outside_c: float = 4.0, setpoint_c: float = 20.0,
                 fail_at_s: float | None = None, recover_at_s: float | None = None) -> None:
        self.zones = [17.0 + 0.5 * k for k in range(zones)]
        self.flow = 30.0
        self.outside = outside_c
        self.setpoint = setpoint_c
        self.fail_at = fail_at_s
        self.recover_at = recover_at_s
        self.call = False
        self.t = 0.0
        self.burn_s = 0.0

    def boiler_working(self, t: float) -> bool:
        if self.fail_at is None or t < self.fail_at:
            return True
        return self.recover_at is not None and t >= self.recover_at

    def advance(self, t: float) -> None:
        step = 10.0
        while self.t + 1e-9 < t:
            dt = min(step, t - self.t)
            if self.zones[0] < self.setpoint - 0.5:
                self.call = True
            elif self.zones[0] > self.setpoint + 0.5:
                self.call = False
            heating = self.call and self.boiler_working(self.t)
            target = 72.0 if heating else self.zones[0]
            self.flow += (target - self.flow) * min(1.0, dt / (400.0 if heating else 1800.0))
            for k, temp in enumerate(self.zones):
                gain = (self.flow - temp) / 9000.0 if self.call else 0.0
                loss = (temp - self.outside) / (30000.0 + 4000.0 * k)
                self.zones[k] = temp + (gain - loss) * dt
            if self.call:
                self.burn_s += dt
            self.t += dt

    def fail_at_call(self, t: float, raise_setpoint_c: float = 1.5) -> None:
        """From `t` on the boiler makes no heat, as the heating schedule raises
        the setpoint (a morning start from the night setback): the thermostat
        calls at once and the heat never comes, the way a failed boiler is most
        often found. For a live demo, where a failure must show within minutes
        rather than at the next natural call."""
        self.advance(t)
        self.fail_at = t
        self.recover_at = None
        self.setpoint += raise_setpoint_c

    def return_temp(self) -> float:
        if self.call and not self.boiler_working(self.t):
            # Burner out, pump running: the water comes back as it left, as
            # nothing heats it on the way round, so flow and return meet.
            return self.flow - 0.3
        return self.zones[0] + (self.flow - self.zones[0]) * 0.6


class UtilityMeter:
    """The building's electricity meter: every machine plus a base load
    (lights, sockets, the server)."""

    def __init__(self, base_w: float, loads: list[MachineLoad]) -> None:
        self.base_w = base_w
        self.loads = loads

    def energy_wh(self, t: float) -> float:
        for load in self.loads:
            load.advance(t)
        return self.base_w * t / 3600.0 + sum(load.energy_wh for load in self.loads)

    def watts(self, t: float) -> float:
        return self.base_w + sum(load.watts(t) for load in self.loads)


class SiteServer:
    """The site server on the LAN (the broker's host, the nodes' NTP server)
    and the building's internet uplink. Its NTP server is set to keep
    serving its own clock while the uplink is down (`ntp_local`: chrony's
    `local stratum`, hardware/README.md); without that it answers "not
    synchronised" (leap indicator 3) then, which the nodes ignore. The
    clocks of the simulation do not drift: its own is the true time."""

    def __init__(self, unix_ms: Callable[[], int], now_s: Callable[[], float],
                 ntp_local: bool = True) -> None:
        self.unix_ms = unix_ms
        self.now_s = now_s
        self.ntp_local = ntp_local
        self.internet_up = True
        self.served: list[tuple[float, str]] = []  # (time, device) of each NTP answer

    def ntp(self, device: str) -> int | None:
        """A node's SNTP query -> Unix ms, or None (not synchronised)."""
        if not self.internet_up and not self.ntp_local:
            return None
        self.served.append((self.now_s(), device))
        return self.unix_ms()


def sine_table(samples_per_cycle: int) -> list[float]:
    return [math.sin(2 * math.pi * k / samples_per_cycle) for k in range(samples_per_cycle)]
