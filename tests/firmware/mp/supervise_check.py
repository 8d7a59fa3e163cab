# The supervisor (firmware/supervisor.py) on a real asyncio loop, under
# CPython (tests/firmware/test_supervisor.py) and MicroPython 1.27: a task
# that raises is reported and restarted with a growing delay while the others
# go on; a task stuck in an await past its announced wait is named as
# stalled, which stops the watchdog feeding; a node's flash task waiting for
# work is not stalled; the MQTT client's drain() is bounded.
# `await run(tmp)` -> figures.
import asyncio
import os
import time

from firmware import supervisor
from firmware.app import Node
from firmware.clock import Clock
from firmware.net.mqtt_client import MqttClient
from simulator.devices.flash import Flash

from .flash_check import Hw, machine_cfg

try:
    ticks_ms = time.ticks_ms  # type: ignore[attr-defined]
    ticks_diff = time.ticks_diff  # type: ignore[attr-defined]
except AttributeError:  # CPython

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


def sleep_ms(ms):
    return asyncio.sleep(ms / 1000)


class _Stuck:
    """A connection whose peer stopped reading: drain() never returns."""

    def write(self, data):
        pass

    async def drain(self):
        await asyncio.Event().wait()

    def close(self):
        pass


class _Link:
    async def open_connection(self, host, port):
        return None, _Stuck()


async def drain_is_bounded(clock):
    """A broker that stops reading ends the session after the MQTT timeout
    (then the client reconnects); before, drain() held the client for ever."""
    client = MqttClient(_Link(), clock, {"host": "10.0.0.2", "timeout_s": 1}, None, "s", "d",
                        lambda: 0.5)
    began = ticks_ms()
    ended = []

    async def session():
        try:
            await client._session()
        except asyncio.TimeoutError:
            ended.append(ticks_diff(ticks_ms(), began))

    task = asyncio.create_task(session())
    for _ in range(300):
        if ended:
            break
        await asyncio.sleep(0.01)
    if not ended:
        task.cancel()
    assert ended and 900 <= ended[0] < 2500, ended
    waited = ended[0]
    return waited


async def idle_flash_task_is_not_stalled(tmp, clock):
    """A node's flash task waits for records to write, which may not come
    for minutes: that is no stall. Before, the wait it announced last (one
    scheduler turn, before a write) ran out GRACE_MS later, the feeder
    stopped and the watchdog reset every node within a minute of a quiet
    spell: a reboot loop (the simulator's watchdog model found it)."""
    root = tmp + "/idle"
    os.mkdir(root)
    hw = Hw(root, Flash())
    hw.clock = clock
    node = Node(machine_cfg("idle"), hw)
    task = asyncio.create_task(node.supervisor.keep("flash", node.flash_loop))
    await asyncio.sleep(0.01)
    node.flash_wake.set()  # one record to write, then nothing for a while
    await asyncio.sleep(4 * supervisor.GRACE_MS / 1000)
    stalled = node.supervisor.stalled(clock.now_ms())
    task.cancel()
    await asyncio.sleep(0.01)
    assert stalled is None, "the idle flash task counts as stalled: %s" % stalled
    return stalled


async def run(tmp):
    # Short grace and restart delays for this check only: under CPython it runs
    # inside the test process, where later tests build nodes with the real ones.
    grace, first_restart = supervisor.GRACE_MS, supervisor.FIRST_RESTART_MS
    supervisor.GRACE_MS, supervisor.FIRST_RESTART_MS = 60, 20
    try:
        return await _checks(tmp)
    finally:
        supervisor.GRACE_MS, supervisor.FIRST_RESTART_MS = grace, first_restart


async def _checks(tmp):
    drained_ms = await drain_is_bounded(Clock(ticks_ms, ticks_diff, sleep_ms))
    idle_stalled = await idle_flash_task_is_not_stalled(tmp, Clock(ticks_ms, ticks_diff, sleep_ms))
    clock = Clock(ticks_ms, ticks_diff, sleep_ms)
    reports = []
    sup = supervisor.Supervisor(clock, lambda name, detail: reports.append([name, detail]),
                                lambda: 0.5)
    runs = {"flaky": 0, "steady": 0}
    relay = {"on": True}  # a session's interlock: no restart may touch it
    never = asyncio.Event()

    async def flaky():
        runs["flaky"] += 1
        await clock.sleep_ms(5)
        if runs["flaky"] <= 2:
            raise ValueError("boom %d" % runs["flaky"])
        while True:
            await clock.sleep_ms(10)

    async def steady():
        while True:
            runs["steady"] += 1
            await clock.sleep_ms(10)

    async def stuck():
        for _ in range(3):
            await clock.sleep_ms(10)
        await never.wait()  # waits without announcing it: no progress

    tasks = [asyncio.create_task(sup.keep(name, start))
             for name, start in (("flaky", flaky), ("steady", steady), ("stuck", stuck))]
    await asyncio.sleep(0.05)
    early = sup.stalled(clock.now_ms())
    await asyncio.sleep(0.25)
    late = sup.stalled(clock.now_ms())
    for task in tasks:
        task.cancel()
    await asyncio.sleep(0.01)
    assert early is None, early
    assert late == "stuck", late
    assert reports == [["flaky", "ValueError: boom 1"], ["flaky", "ValueError: boom 2"]], reports
    assert runs["flaky"] == 3 and runs["steady"] >= 10, runs
    assert relay["on"] and sup.failures == 2
    return {"restarts": runs["flaky"] - 1, "stalled": late, "steady_runs": runs["steady"],
            "drain_ms": drained_ms, "idle_flash_stalled": idle_stalled}
