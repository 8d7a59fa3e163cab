"""Enumerating usernames by timing: a wrong password for a known user, an unknown
username and an inactive login all cost the same scrypt check, so their answers take
the same time: the median, over rounds, of each one's time relative to the known user's
in the same round is within 10 % (pairs taken together cancel the drift of a shared
machine's load)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx

from tests.security.conftest import ServedApi

ROUNDS = 50


def test_known_unknown_and_inactive_users_take_the_same_time(
    serve_api: Callable[..., ServedApi],
) -> None:
    # The throttle would refuse most of these tries unchecked: off for this measurement.
    api = serve_api(API_LOGIN_USER_FREE_FAILURES="100000", API_LOGIN_ADDRESS_FREE_FAILURES="100000")
    api.add_user("alice")
    api.add_user("gone", active=False)
    kinds = {"known": "alice", "unknown": "nobody", "inactive": "gone"}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for kind in kinds:  # warm up each path once
            api.login(kinds[kind], "guess", client)
        for i in range(ROUNDS):
            # Interleaved, in a rotating order: load on the machine hits all alike.
            order = list(kinds)[i % 3 :] + list(kinds)[: i % 3]
            for kind in order:
                username = kinds[kind] if kind != "unknown" else f"nobody{i}"
                started = time.perf_counter()
                response = api.login(username, f"guess-{i}", client)
                times[kind].append(time.perf_counter() - started)
                assert response.status_code == 401, response.text
    medians = {kind: round(statistics.median(values), 4) for kind, values in times.items()}
    ratios = {
        kind: statistics.median(t / k for t, k in zip(times[kind], times["known"], strict=True))
        for kind in ("unknown", "inactive")
    }
    print(f"\nmedian login time, s: {medians}; median ratio to known: {ratios}")
    for kind, ratio in ratios.items():
        assert abs(ratio - 1) <= 0.10, (kind, ratios, medians)
