"""The simulator's own parts the workshop week relies on: S0 pulses reach
the pulse counter whatever woke the task that blocks the port, the pulse
generator's rate can be turned, a power cut can hit a chosen flash write,
an unfed watchdog resets the board, and the scenario refuses a bad fault
naming it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from firmware.drivers.s0 import S0Counter
from simulator.devices import gpio
from simulator.devices.flash import Flash, PowerCut
from simulator.devices.port import Port
from simulator.fleet import Fleet
from simulator.scenario import Scenario, ScenarioError
from simulator.virtual import VirtualWatchdog
from simulator.vloop import VirtualTimeLoop


def test_pulses_in_time_the_port_did_not_see_are_counted() -> None:
    """Virtual time also passes outside the models (other nodes' work, a
    task woken by the network); a blocking call then must not start its
    edges at its own start: the PCNT counts every pulse in hardware."""
    port = Port()
    train = gpio.RatePulses(10.0, 1000)
    gpio.S0Output(port, 32, train)
    counter = S0Counter(port, 32)
    port.timebase.advance_us(1_000_000)  # a second the port did not follow
    port.busy_us(400_000)  # then a flash erase, by a task woken by a socket
    port.timebase.advance_us(600_000)
    port.wait_us(1000)
    assert counter.count() == train.count(port.now_us()) == 21


def test_a_pulse_generator_turned_down_and_off() -> None:
    train = gpio.RatePulses(10.0, 0)
    train.set_rate(2.0, 1_000_000)
    train.set_rate(0, 3_000_000)
    starts = train(-1, 10_000_000)
    assert len(starts) == 10 + 4 == train.count(10_000_000)
    assert starts[9] == 900_000 and starts[10] == 1_000_000 and starts[-1] == 2_500_000
    assert train(0, 10_000_000) == starts[1:]  # (t0, t1]: the pulse at t0 is the window before


def test_a_power_cut_at_the_commit_of_a_chosen_file(tmp_path: Path) -> None:
    flash = Flash()
    path = str(tmp_path / "config.json")
    flash.write_atomic(path, b"old")
    cuts: list[int] = []
    flash.on_cut = lambda: cuts.append(flash.ops)
    flash.cut_file = "config.json"
    flash.append(str(tmp_path / "counters"), b"x")  # another file: written
    with pytest.raises(PowerCut):
        flash.write_atomic(path, b"new")  # the .tmp is written, its rename is cut
    assert cuts and flash.read(path) == b"old" and flash.read(path + ".tmp") == b"new"
    flash.off = True  # the board has no power: nothing more is written
    with pytest.raises(PowerCut):
        flash.append(str(tmp_path / "counters"), b"y")
    assert flash.read(str(tmp_path / "counters")) == b"x"


def test_an_unfed_watchdog_resets_the_board() -> None:
    loop = VirtualTimeLoop()
    resets: list[float] = []

    async def play() -> None:
        fed = VirtualWatchdog(30000, lambda: resets.append(loop.time()))
        unfed = VirtualWatchdog(30000, lambda: resets.append(-loop.time()))
        for _ in range(10):
            await asyncio.sleep(10)
            fed.feed()
        fed.stop()
        unfed.stop()

    try:
        loop.run_until_complete(play())
    finally:
        loop.close()
    assert resets == [-30.0]


NODES = [{"device": "node1", "role": "machine"}, {"device": "node3", "role": "heating"},
         {"device": "node4", "role": "meter", "hardware": {"s0_hz": 10}}]


@pytest.mark.parametrize(("event", "named"), [
    ({"at_s": 1, "internet": "up", "for_s": 5}, 'internet must be "down"'),
    ({"at_s": 1, "internet": "down"}, "needs for_s"),
    ({"at_s": 1, "unplug_probe": "node1", "sensor": "t_flow", "for_s": 5}, "heating node"),
    ({"at_s": 1, "unplug_probe": "node3", "sensor": "t_attic", "for_s": 5}, "heating node"),
    ({"at_s": 1, "s0_rate": "node1", "hz": 5}, "node1 has no s0_hz"),
    ({"at_s": 1, "s0_rate": "node4", "hz": -1}, "needs hz >= 0"),
    ({"at_s": 1, "unplug": "node1", "for_s": 5, "during_write": 3}, "during_write"),
])
def test_a_bad_fault_is_refused_naming_it(event: dict[str, Any], named: str) -> None:
    with pytest.raises(ScenarioError, match=named):
        Scenario({"nodes": NODES, "events": [event]})
    good = Scenario({"nodes": NODES, "site_server": {"ntp_local": False}, "events": [
        {"at_s": 1, "internet": "down", "for_s": 5},
        {"at_s": 1, "unplug_probe": "node3", "sensor": "t_zone2", "for_s": 5},
        {"at_s": 1, "s0_rate": "node4", "hz": 0},
        {"at_s": 1, "unplug": "node1", "for_s": 5, "during_write": "config.json"}]})
    assert not good.ntp_local and len(good.events) == 4


def test_a_power_cut_in_the_boot_write_brings_the_node_back(tmp_path: Path) -> None:
    """`unplug` with during_write "*" armed while the node is off: the power
    goes again at its first write, during the boot, and comes back."""
    fleet = Fleet(Scenario({"nodes": [{"device": "node4", "role": "meter"}]}), tmp_path)
    loop = VirtualTimeLoop()

    async def play() -> int:
        sim = fleet.node("node4")
        sim.set_network(False)
        sim.unplug(5, "*")  # armed, and the next write is the boot's
        sim.power_cut()
        sim.power_on()
        assert sim.node is None and not sim.powered
        await asyncio.sleep(10)
        assert sim.node is not None and sim.boots == 2
        await fleet.shutdown()
        return sim.boots

    try:
        assert loop.run_until_complete(play()) == 2
    finally:
        loop.close()
