"""Guessing passwords: the documented throttle (docs/security.md) refuses the guesser,
the right password too while the delay runs, and the api keeps answering others."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx

from tests.api.conftest import Api
from tests.security.conftest import Probe, ServedApi

# The documented schedule: 5 failures for a username (20 for an address) are free;
# the next failure locks for 1 s, and each further one doubles the delay.
USER_FREE = 5
ADDRESS_FREE = 20


def _delay_after(failures: int, free: int) -> int:
    return 0 if failures <= free else 2 ** (failures - free - 1)


def _retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert "too many failed logins" in response.json()["detail"]
    return int(response.headers["Retry-After"])


def test_100_wrong_passwords_lock_the_user_not_the_api(
    serve_api: Callable[..., ServedApi],
) -> None:
    api = serve_api()
    admin = api.token("admin", api.add_user("admin", "admin"))
    right = api.add_user("alice")
    with httpx.Client(base_url=api.url, timeout=30) as client, Probe(api.url, admin) as probe:
        started = time.monotonic()
        codes = [api.login("alice", f"guess-{i}", client).status_code for i in range(100)]
        elapsed = time.monotonic() - started
        refused = api.login("alice", right, client)
    assert not probe.failures, probe.failures
    assert probe.worst < 1.0, probe.summary()

    # Checked (401) until the 6th failure, then refused unchecked (429) while locked.
    assert codes[: USER_FREE + 1] == [401] * (USER_FREE + 1)
    assert codes[USER_FREE + 1] == 429
    assert set(codes) == {401, 429}
    # Delays 1, 2, 4 ... s: within `elapsed` no more than log2(elapsed + 1) further checks.
    assert codes.count(401) <= USER_FREE + 1 + math.floor(math.log2(elapsed + 1)) + 1
    # The right password is refused too while the delay runs.
    assert _retry_after(refused) >= 1


def test_delays_double_and_the_right_password_works_after_them(
    serve_api: Callable[..., ServedApi],
) -> None:
    api = serve_api()
    right = api.add_user("alice")
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for _ in range(USER_FREE):
            assert api.login("alice", "guess", client).status_code == 401
        for failures in range(USER_FREE + 1, USER_FREE + 4):
            assert api.login("alice", "guess", client).status_code == 401
            wait = _retry_after(api.login("alice", right, client))
            assert wait == _delay_after(failures, USER_FREE)  # 1, 2, 4
            time.sleep(wait)
        # After the delay, the right password logs in and clears the user's count.
        assert api.login("alice", right, client).status_code == 200
        assert api.login("alice", "guess", client).status_code == 401


def test_a_lockout_survives_an_api_restart(serve_api: Callable[..., ServedApi]) -> None:
    api = serve_api(API_LOGIN_FIRST_DELAY_S="60")
    right = api.add_user("alice")
    for _ in range(USER_FREE + 1):  # the 6th failure locks for 60 s
        assert api.login("alice", "guess").status_code == 401
    locked_at = time.monotonic()
    api.process.restart()
    wait = _retry_after(api.login("alice", right))
    assert 60 - (time.monotonic() - locked_at) - 1 <= wait <= 60


def test_one_address_guessing_many_usernames_is_throttled(make_api: Callable[..., Api]) -> None:
    api = make_api()
    right = "admin-password"  # the fixture's admin login (tests/api/conftest.py)
    for i in range(ADDRESS_FREE + 1):
        response = api.client.post(
            "/auth/token", json={"username": f"nobody{i}", "password": "guess"}
        )
        assert response.status_code == 401, (i, response.text)
    # Every username from that address now waits, even a real one with its right password.
    refused = api.client.post("/auth/token", json={"username": "admin", "password": right})
    assert _retry_after(refused) == 1


def test_a_success_clears_the_user_count_but_not_the_address_count(
    make_api: Callable[..., Api],
) -> None:
    api = make_api()

    def login(password: str) -> int:
        body = {"username": "treasurer", "password": password}
        return api.client.post("/auth/token", json=body).status_code

    for _ in range(USER_FREE - 1):
        assert login("guess") == 401
    assert login("treasurer-password") == 200
    for _ in range(USER_FREE):
        assert login("guess") == 401  # counted from zero again
    assert login("guess") == 401  # the 6th in a row: locks for 1 s
    assert login("treasurer-password") == 429


def test_inactive_and_unknown_users_are_refused_like_a_wrong_password(
    make_api: Callable[..., Api],
) -> None:
    api = make_api()
    api.ok(
        "admin",
        "POST",
        "/users",
        json={"username": "gone", "password": "gone-password", "role": "coordinator"},
    )
    users = api.ok("admin", "GET", "/users")
    gone = next(u["id"] for u in users if u["username"] == "gone")
    api.ok("admin", "PATCH", f"/users/{gone}", json={"active": False})
    for username, password in (("gone", "gone-password"), ("nobody", "x"), ("admin", "x")):
        response = api.client.post("/auth/token", json={"username": username, "password": password})
        assert (response.status_code, response.json()["detail"]) == (
            401,
            "wrong username or password",
        )
