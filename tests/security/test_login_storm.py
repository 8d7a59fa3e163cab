"""1,000 logins at once against the api process: each password check costs 16 MiB of
scrypt memory, so only a few run at a time and the rest are refused at once (429 or
503 with Retry-After) instead of queueing; the api keeps answering other requests."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from api.security import SCRYPT_MEMORY_BYTES
from tests.security.conftest import Probe, ServedApi

LOGINS = 1000
MEMORY_MIB = 64  # the default API_LOGIN_MEMORY_MIB: at most 4 checks at once
SLOTS = MEMORY_MIB * 2**20 // SCRYPT_MEMORY_BYTES  # fewer on a machine with under 5 cores
USER_FREE = 5


@dataclass
class Answer:
    status: int
    headers: dict[str, str]


async def _login(host: str, port: int, body: bytes) -> Answer:
    # A bare HTTP/1.1 client: the attacker's CPU is not the api's, and httpx would spend
    # more of the two cores on building requests than the api spends on refusing them.
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            b"POST /auth/token HTTP/1.1\r\nHost: api\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        await reader.read()  # the body, up to the server's close
    finally:
        writer.close()
    fields = dict(line.split(": ", 1) for line in head[1:] if line)
    return Answer(int(head[0].split()[1]), {k.lower(): v for k, v in fields.items()})


async def _storm(url: str) -> tuple[list[Answer | BaseException], float]:
    """LOGINS connections opened at once, each guessing alice's password."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    answers = await asyncio.gather(
        *(
            _login(host, int(port), json.dumps({"username": "alice", "password": f"g{i}"}).encode())
            for i in range(LOGINS)
        ),
        return_exceptions=True,
    )
    return answers, time.monotonic() - started


def test_1000_parallel_logins_leave_the_api_answering(
    serve_api: Callable[..., ServedApi],
) -> None:
    # A first delay of a minute: once alice is locked she stays locked for the test.
    api = serve_api(API_LOGIN_FIRST_DELAY_S="60")
    admin = api.token("admin", api.add_user("admin", "admin"))
    right = api.add_user("alice")
    peak_before = api.memory_kib("VmHWM")
    with Probe(api.url, admin) as probe:
        answers, elapsed = asyncio.run(_storm(api.url))
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, errors[:3]
    responses = [a for a in answers if isinstance(a, Answer)]
    codes = Counter(r.status for r in responses)
    grown_mib = (api.memory_kib("VmHWM") - peak_before) / 1024
    print(
        f"\n{LOGINS} logins in {elapsed:.1f} s: {dict(codes)}; probe: {probe.summary()};"
        f" peak memory +{grown_mib:.0f} MiB"
    )

    assert not probe.failures, probe.failures
    assert probe.worst < 1.0, probe.summary()
    assert set(codes) <= {401, 429, 503}, codes
    assert all("retry-after" in r.headers for r in responses if r.status in (429, 503))
    # Passwords were checked only until alice was locked: 5 free failures, the 6th
    # locks, and at most the checks already running then (one per slot).
    assert codes[401] <= USER_FREE + SLOTS, codes
    # The scrypt memory in use never went far beyond the slots' share.
    assert grown_mib < SLOTS * 16 + 100, grown_mib
    # As documented: the 6th checked failure locks, in the storm or (when the storm
    # was mostly refused as busy) in the guesses after it; then even the right
    # password is refused.
    after = []
    for _ in range(USER_FREE + 1):
        status = api.login("alice", "guess").status_code
        if status == 429:
            break
        after.append(status)
    assert after == [401] * max(0, USER_FREE + 1 - codes[401])
    refused = api.login("alice", right)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
