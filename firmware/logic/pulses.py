# S0 pulses (counted by drivers/s0.py) as energy and power.


def wh_from_pulses(pulses: int, pulses_per_kwh: int) -> int:
    return pulses * 1000 // pulses_per_kwh


def watts_from_pulses(d_pulses: int, dt_ms: int, pulses_per_kwh: int) -> float:
    if dt_ms <= 0:
        return 0.0
    return d_pulses * 3600000000 / (pulses_per_kwh * dt_ms)
