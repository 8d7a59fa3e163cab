"""The member and treasurer web page in a real headless Chromium, against the
api served by uvicorn over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.main import create_app
from devservers import InfluxDB
from devservers.asgi import ThreadedApp
from protocol.badge import badge_hash, parse_key, uid_from_hex
from tests.api.cdp import Browser
from tests.api.conftest import BADGE_KEY, SITE, Api, make_settings
from tests.api.factories import build_worked_example
from tests.api.influx_data import session_lines


@pytest.fixture
def served(
    database_url: str, influxdb: InfluxDB, make_api: Callable[..., Api]
) -> Iterator[tuple[str, Api]]:
    # Data goes in through the test client; the browser talks to a uvicorn on the same database.
    api = make_api()
    ids = build_worked_example(api)
    api.ok("treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]})
    api.ok(
        "admin", "POST", "/badges", json={"member_id": ids["members"]["A"], "uid": "04:0A:0A:0A"}
    )
    api.ok(
        "admin",
        "POST",
        "/users",
        json={
            "username": "alice",
            "password": "alice-password",
            "role": "member",
            "member_id": ids["members"]["A"],
        },
    )
    api.ok(
        "admin",
        "POST",
        "/users",
        json={"username": "tom", "password": "tom-password", "role": "treasurer"},
    )
    now_ms = int(time.time() * 1000)
    badge = badge_hash(parse_key(BADGE_KEY), uid_from_hex("04:0A:0A:0A"))
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000 - 7200))
    end = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000 - 3600))
    influxdb.write(session_lines(SITE, "node1", 1, badge, start, end, 1))

    reader = influxdb.client()
    with ThreadedApp(create_app(make_settings(database_url), influx=reader)) as served:
        yield served.url, api
    reader.close()


def _login(browser: Browser, url: str, username: str, password: str) -> None:
    browser.goto(url + "/")
    browser.evaluate(
        f"document.getElementById('username').value = {username!r};"
        f"document.getElementById('password').value = {password!r};"
        "document.getElementById('login-button').click();"
    )


def _rows(browser: Browser, selector: str) -> Any:
    return browser.evaluate(
        f"[...document.querySelectorAll({selector!r})]"
        ".map(tr => [...tr.children].map(td => td.textContent))"
    )


def test_member_sees_own_sessions_and_statement(served: tuple[str, Api], browser: Browser) -> None:
    url, _ = served
    _login(browser, url, "alice", "alice-password")
    browser.wait_for("document.body.dataset.ready === '1'")
    assert browser.evaluate("document.getElementById('login').hidden") is True
    assert browser.evaluate("document.getElementById('treasurer').hidden") is True
    sessions = _rows(browser, "#sessions tbody tr")
    assert len(sessions) == 1 and sessions[0][3] == "60"
    heading = browser.evaluate("document.querySelector('#statements h3').textContent")
    assert heading.endswith(": 502.78")
    amounts = browser.evaluate(
        "[...document.querySelectorAll('#statements td.amount')].map(td => td.textContent)"
    )
    assert sum(round(float(a) * 100) for a in amounts) == 50278
    # Nothing of another member reached the page.
    assert "470.56" not in browser.evaluate("document.body.innerText")


def test_treasurer_sees_the_split_table(served: tuple[str, Api], browser: Browser) -> None:
    url, _ = served
    _login(browser, url, "tom", "tom-password")
    browser.wait_for("document.body.dataset.ready === '1'")
    assert browser.evaluate("document.getElementById('mine').hidden") is True
    rows = {r[0]: r[5] for r in _rows(browser, "#split tbody tr")}
    assert rows == {"A": "502.78", "B": "470.56", "C": "133.29", "vacancy": "144.48"}
    assert _rows(browser, "#split tfoot tr")[0][5] == "1251.11"
    assert browser.evaluate("document.getElementById('csv').hidden") is False


def test_wrong_password_is_shown(served: tuple[str, Api], browser: Browser) -> None:
    url, _ = served
    _login(browser, url, "alice", "not-her-password")
    message = browser.wait_for("document.getElementById('login-error').textContent")
    assert "wrong username or password" in message
    assert browser.evaluate("document.getElementById('mine').hidden") is True
