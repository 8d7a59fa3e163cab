"""The rules as pure functions on hand-made rows: each threshold is crossed
and not crossed, so a rule that always or never fires fails here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alerts.config import HeatingConfig, MachineConfig, OfflineConfig, OpeningHours, SensorConfig
from alerts.findings import Row
from alerts.rules import heating, machines, offline, sensors
from alerts.rules.machines import Sessions
from alerts.rules.offline import Liveness
from bench.synthetic import ms

KEY = ("mf1", "n1")
T0 = ms("2026-11-02T08:00")  # a Monday, opening hours start


def rows(
    start: int, end: int, step_s: int, make: Callable[[int, int], dict[str, Any]]
) -> list[Row]:
    return [{"time": t, **make(i, t)} for i, t in enumerate(range(start, end, step_s * 1000))]


def _heating(data: list[Row], now: int) -> list[str]:
    found = heating.evaluate({KEY: [r for r in data if r["time"] <= now]}, HeatingConfig(),
                             OpeningHours(), now)
    return found[0].details["conditions"] if found else []


def test_flow_that_never_rises_fires_after_the_window_not_before() -> None:
    data = rows(T0, T0 + 3_600_000, 10, lambda i, t: {"call": 1.0, "t_flow": 25 + (i % 3) * 0.1,
                                                        "t_return": 22.0})
    assert _heating(data, T0 + 890_000) == []
    conditions = _heating(data, T0 + 900_000)
    assert len(conditions) == 1 and "flow rose only" in conditions[0]


def test_healthy_warm_up_and_hot_restart_do_not_fire() -> None:
    warm = rows(T0, T0 + 3_600_000, 10, lambda i, t: {
        "call": 1.0, "t_flow": min(65.0, 25 + i * 0.2), "t_return": min(50.0, 23 + i * 0.1)})
    assert _heating(warm, T0 + 3_000_000) == []
    hot = rows(T0, T0 + 3_600_000, 10, lambda i, t: {"call": 1.0, "t_flow": 46.0 + (i % 2),
                                                       "t_return": 38.0})
    assert _heating(hot, T0 + 3_000_000) == []


def test_flow_falling_while_calling_and_delta_collapse() -> None:
    def model(i: int, t: int) -> dict[str, Any]:
        flow = 65.0 if i < 180 else max(30.0, 65.0 - (i - 180) * 0.5)
        return {"call": 1.0, "t_flow": flow, "t_return": flow - (12.0 if i < 180 else 0.5)}

    data = rows(T0, T0 + 3 * 3_600_000, 10, model)
    assert _heating(data, T0 + 1_790_000) == []
    assert any("flow fell" in c for c in _heating(data, T0 + 1_800_000 + 330_000))
    later = _heating(data, T0 + 1_800_000 + 900_000)
    assert any("flow-return difference" in c for c in later)


def _awaiting(data: list[Row], now: int, silent_s: int = 0) -> bool:
    upto = now - silent_s * 1000
    waiting = heating.awaiting_heat({KEY: [r for r in data if r["time"] <= upto]},
                                    HeatingConfig(), now)
    assert waiting <= {"heating:mf1:n1"}
    return bool(waiting)


def test_only_a_flow_making_heat_clears_a_boiler() -> None:
    """Not calling, or calling with the flow not yet risen, proves nothing;
    a call whose flow rose 5 K, or a flow above 40 °C, does."""
    def model(i: int, t: int) -> dict[str, Any]:
        calling = i >= 90  # 15 min off, then a call: flat for 5 min, then rising
        flow = 22.0 + max(0, i - 120) * 0.5 if calling else 22.0 + (i % 2) * 0.1
        return {"call": 1.0 if calling else 0.0, "t_flow": flow, "t_return": 21.0}

    data = rows(T0, T0 + 3_600_000, 10, model)
    assert _awaiting(data, T0 + 850_000)  # not calling, cold
    assert _awaiting(data, T0 + 1_150_000)  # calling, flow +0 K so far
    assert not _awaiting(data, T0 + 1_400_000)  # calling, flow +10 K
    assert not _awaiting(data, T0 + 3_000_000)  # calling, flow hot
    assert not _awaiting(data, T0 + 3_000_000 + 14 * 60_000, silent_s=14 * 60)
    assert _awaiting(data, T0 + 3_000_000 + 16 * 60_000, silent_s=16 * 60)  # stale: says nothing
    # Calling, flow risen but the return as hot as the flow: no heat leaves.
    stuck = rows(T0, T0 + 1_800_000, 10, lambda i, t: {
        "call": 1.0, "t_flow": 30.0 + min(i, 60) * 0.2, "t_return": 30.0 + min(i, 60) * 0.2})
    assert _awaiting(stuck, T0 + 1_700_000)
    hot_idle = rows(T0, T0 + 1_800_000, 10, lambda i, t: {"call": 0.0, "t_flow": 45.0,
                                                            "t_return": 40.0})
    assert not _awaiting(hot_idle, T0 + 1_700_000)
    zones_only = rows(T0, T0 + 1_800_000, 60, lambda i, t: {"t_zone1": 12.0})
    assert not _awaiting(zones_only, T0 + 1_700_000)


def test_zone_cold_only_counts_opening_hours() -> None:
    cold = rows(T0 - 7_200_000, T0 + 7_200_000, 60, lambda i, t: {"t_zone1": 12.0 + (i % 2) / 10})
    assert _heating(cold, T0 + 3_540_000) == []  # cold all night, but open for 59 min only
    assert any("t_zone1" in c for c in _heating(cold, T0 + 3_600_000))
    evening = ms("2026-11-02T21:00")
    late = rows(evening - 7_200_000, evening, 60, lambda i, t: {"t_zone1": 12.0})
    assert _heating(late, evening - 60_000) == []  # 19:00-21:00 is closed
    # A zone with its own setpoint: 13 °C is fine for the store room.
    cfg = HeatingConfig(zone_setpoints={"n1.t_zone1": 12.0})
    assert heating.evaluate({KEY: cold}, cfg, OpeningHours(), T0 + 3_600_000) == []


def _sensors(data: list[Row], now: int) -> list[tuple[str, str]]:
    return [(f.subject, f.details["reason"])
            for f in sensors.evaluate({KEY: data}, SensorConfig(), now)]


def test_sensor_stuck_out_of_range_and_jumping() -> None:
    end = T0 + 4 * 3_600_000
    stuck = rows(T0, end, 60, lambda i, t: {"t_zone1": 21.0, "t_flow": 40 + (i % 5) * 0.1})
    assert _sensors(stuck, T0 + 2 * 3_600_000) == []
    assert _sensors(stuck, T0 + 3 * 3_600_000) == [("t_zone1", "stuck")]
    broken = rows(T0, T0 + 600_000, 10, lambda i, t: {"t_flow": -127.0 if i > 50 else 40.0,
                                                       "w": -5.0 if i > 55 else 3.0})
    assert sorted(_sensors(broken, T0 + 600_000)) == [("t_flow", "out_of_range"),
                                                       ("w", "out_of_range")]
    spikes = rows(T0, T0 + 1_800_000, 10,
                  lambda i, t: {"t_return": 85.0 if i in (40, 120) else 35.0 + (i % 3) * 0.1})
    assert _sensors(spikes, T0 + 1_790_000) == [("t_return", "jumping")]
    one_spike = rows(T0, T0 + 1_800_000, 10,
                     lambda i, t: {"t_return": 85.0 if i == 40 else 35.0 + (i % 3) * 0.1})
    assert _sensors(one_spike, T0 + 1_790_000) == []
    binary = rows(T0, end, 60, lambda i, t: {"call": 0.0, "relay": 0.0, "w": 3.0})
    assert _sensors(binary, end) == []


def test_offline_by_silence_against_the_learned_interval_and_by_last_will() -> None:
    telemetry = rows(T0, T0 + 600_000, 60, lambda i, t: {"seq": i})
    interval = offline.reporting_interval_s(telemetry, OfflineConfig())
    assert interval == 60.0
    last = telemetry[-1]["time"]
    live = {KEY: Liveness(last, T0, 1)}
    assert offline.evaluate(live, {KEY: interval}, OfflineConfig(), last + 170_000) == []
    found = offline.evaluate(live, {KEY: interval}, OfflineConfig(), last + 181_000)
    assert [f.details["reason"] for f in found] == ["silent"]
    will = {KEY: Liveness(last, last + 5_000, 0)}
    found = offline.evaluate(will, {KEY: interval}, OfflineConfig(), last + 10_000)
    assert [f.details["reason"] for f in found] == ["last_will"]
    back = {KEY: Liveness(last + 20_000, last + 5_000, 0)}  # telemetry after the will
    assert offline.evaluate(back, {KEY: interval}, OfflineConfig(), last + 21_000) == []


def test_machine_session_open_across_the_window_start_is_respected() -> None:
    data = rows(T0, T0 + 3_600_000, 10, lambda i, t: {"w": 900.0, "relay": 1.0})
    now = T0 + 3_590_000
    opened_earlier = Sessions([], open_before=True)
    assert machines.evaluate({KEY: data}, {KEY: opened_earlier}, MachineConfig(), now) == []
    ended = Sessions([{"time": T0 + 60_000, "kind": "session_end"}], open_before=True)
    found = machines.evaluate({KEY: data}, {KEY: ended}, MachineConfig(), now)
    assert [f.kind for f in found] == ["machine_left_on"]


def _cycling(run_s: int, rest_s: int, counter: bool = True) -> Callable[[int, int], dict[str, Any]]:
    """A compressor reported every 60 s: running `run_s`, resting `rest_s`;
    the power snapshot at a report often falls in a rest."""
    period = run_s + rest_s

    def make(i: int, t: int) -> dict[str, Any]:
        elapsed = i * 60
        ran = sum(min(run_s, max(0, elapsed - k * period)) for k in range(elapsed // period + 1))
        row: dict[str, Any] = {"w": 2200.0 if elapsed % period < run_s else 0.0}
        if counter:
            row["on_s"] = ran
        return row

    return make


def _left_on(data: list[Row], config: MachineConfig | None = None) -> list[str]:
    now = int(data[-1]["time"])
    return [f.kind for f in machines.evaluate({KEY: data}, {}, config or MachineConfig(), now)]


def test_cycling_compressor_left_on_counts_its_rests_as_use() -> None:
    # 2 min on, 5 min off, for 40 minutes: the snapshot sees it off most of
    # the time, the running-time counter sees every run.
    data = rows(T0, T0 + 40 * 60_000, 60, _cycling(120, 300))
    assert sum(1 for r in data if r["w"] > 0) < len(data) / 2
    assert _left_on(data[:25]) == []  # 24 minutes: not yet
    assert _left_on(data) == ["machine_left_on"]
    # Rests longer than pause_s end a use: 2 min every 20 min is not "left on".
    sparse = rows(T0, T0 + 80 * 60_000, 60, _cycling(120, 1080))
    assert _left_on(sparse) == []
    assert _left_on(sparse, MachineConfig(pause_s=1200)) == ["machine_left_on"]


def test_left_on_without_counter_falls_back_to_the_power_snapshot() -> None:
    steady = rows(T0, T0 + 40 * 60_000, 60, lambda i, t: {"w": 800.0})
    assert _left_on(steady) == ["machine_left_on"]
    stopped = steady[:-16] + rows(T0 + 24 * 60_000, T0 + 40 * 60_000, 60, lambda i, t: {"w": 0.0})
    assert _left_on(stopped) == []  # off for 16 minutes, longer than a pause


def test_welded_relay_on_a_cycling_compressor_is_read_from_its_counter() -> None:
    cycle = _cycling(120, 300)
    # In a session (relay closed) for 10 minutes, then the relay opens but
    # its contacts are welded: the compressor keeps cycling.
    data = rows(T0, T0 + 40 * 60_000, 60, lambda i, t: {**cycle(i, t), "relay": float(i < 8)})
    kinds = [f.kind for f in machines.evaluate(
        {KEY: data}, {}, MachineConfig(), int(data[-1]["time"]))]
    assert kinds == ["interlock_fault"]
    # The first interval after the session (relay closed at its start) never
    # counts: a session's last seconds of running are not a fault.
    cut = data[:9]
    assert cut[7]["relay"] == 1.0 and cut[8]["relay"] == 0.0
    assert cut[8]["on_s"] > cut[7]["on_s"]
    assert machines.evaluate({KEY: cut}, {}, MachineConfig(), int(cut[-1]["time"])) == []
    # Switched off (the counter stops) for longer than a pause: resolved.
    stopped = data + rows(T0 + 40 * 60_000, T0 + 56 * 60_000, 60,
                          lambda i, t: {"w": 0.0, "on_s": data[-1]["on_s"], "relay": 0.0})
    assert machines.evaluate({KEY: stopped}, {}, MachineConfig(),
                             int(stopped[-1]["time"])) == []
