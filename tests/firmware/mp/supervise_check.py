# The supervisor (firmware/supervisor.py) on a real asyncio loop, under
# CPython (tests/firmware/test_supervisor.py) and MicroPython 1.27: a task
# that raises is reported and restarted with a growing delay while the others
# go on; a task stuck in an await past its announced wait is named as
# stalled, which stops the watchdog feeding; the MQTT client's drain() is
# bounded. `await run()` -> figures.
import asyncio
import time

from firmware import supervisor
from firmware.clock import Clock
from firmware.net.mqtt_client import MqttClient

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


async def run():
    drained_ms = await drain_is_bounded(Clock(ticks_ms, ticks_diff, sleep_ms))
    supervisor.GRACE_MS = 60
    supervisor.FIRST_RESTART_MS = 20
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
            "drain_ms": drained_ms}
