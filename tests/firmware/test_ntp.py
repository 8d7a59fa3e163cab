"""Time from the site server without blocking the node: the firmware's SNTP
driver (firmware/drivers/ntp.py, plain socket and asyncio, so it runs under
CPython too) against a real chronyd serving NTP on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservers import Chrony
from firmware.drivers.ntp import Ntp
from simulator.devices.port import Port
from simulator.hardware import LoopTime


@pytest.fixture
def chrony(tmp_path: Path) -> Iterator[Chrony]:
    with Chrony(tmp_path / "chrony") as server:
        yield server


async def _lateness_while(coro: object) -> tuple[object, float]:
    """Run `coro` next to a task ticking every 10 ms -> (its result, the
    ticker's worst lateness in ms): how long the loop was held."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        while not done:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, (time.monotonic() - before - 0.01) * 1000)

    task = asyncio.create_task(ticker())
    result = await coro  # type: ignore[misc]
    done = True
    await task
    return result, worst


async def test_time_from_the_site_server(chrony: Chrony) -> None:
    ntp = Ntp(Port(LoopTime(asyncio.get_running_loop())), chrony.host, chrony.port)
    unix_ms, held_ms = await _lateness_while(ntp.unix_ms(""))  # "": the broker's host
    assert isinstance(unix_ms, int)
    assert abs(unix_ms - time.time() * 1000) < 500, unix_ms
    assert held_ms < 50, held_ms


async def test_silent_server_never_blocks_the_loop(chrony: Chrony,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = []
    real = socket.getaddrinfo

    def counting(*args: object, **kwargs: object) -> object:
        lookups.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    ntp = Ntp(Port(LoopTime(asyncio.get_running_loop())), "localhost", chrony.port)
    assert isinstance(await ntp.unix_ms(""), int)
    chrony.stop()  # the LAN is up, the server is not answering
    started = time.monotonic()
    unix_ms, held_ms = await _lateness_while(ntp.unix_ms(""))
    assert unix_ms is None
    assert 0.9 < time.monotonic() - started < 2.0  # gave up after its second
    assert held_ms < 50, held_ms  # ...without holding the loop
    assert lookups == ["localhost"]  # the name was resolved once
