"""The web app in a real headless Chromium, against the api served by uvicorn
over real HTTP, with a real InfluxDB (and a real Mosquitto for the admin): each
role's tasks done through the page as a person would, checked in the page and
in the api. Each test saves screenshots at a phone's width (390 px) and a
desktop's (1280 px) to tests/artifacts/screenshots/<test>/."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.config import RulesConfig
from alerts.delivery import Dispatcher
from alerts.models import Alert
from alerts.runner import AlertService
from api.main import create_app
from bench.synthetic import Heating, Machine, heartbeat, ms
from devservers import InfluxDB, Mosquitto
from devservers.asgi import ThreadedApp
from devservers.gateway import GatewayProcess
from protocol.badge import badge_hash, parse_key, uid_from_hex
from simulator.vloop import VirtualTimeLoop
from tests.api.cdp import Browser
from tests.api.conftest import BADGE_KEY, SITE, Api, make_settings
from tests.api.factories import build_worked_example
from tests.api.influx_data import session_lines
from tests.api.test_acl import AclListener
from tests.api.test_badge_at_the_node import let_devices_log_in, machine_node, tap
from tests.api.test_influx_sessions import _flat_bill, populate
from tests.conftest import API_PASSWORD, API_USER, GATEWAY_PASSWORD, GATEWAY_USER
from tests.simulator.harness import run, until
from timeseries import InfluxClient, rollup
from timeseries.lines import int_field, line, string_field, tag_suffix

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PHONE, DESKTOP = 390, 1280


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # The browser tests run on SQLite only: the routes they use are tested on
    # PostgreSQL too, and Chromium is the slow part.
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def reader(influxdb: InfluxDB) -> Iterator[InfluxClient]:
    found = influxdb.client()
    yield found
    found.close()


@contextmanager
def served(database_url: str, reader: InfluxClient, **settings: Any) -> Iterator[str]:
    with ThreadedApp(create_app(make_settings(database_url, **settings), influx=reader)) as app:
        yield app.url


def shots(browser: Browser, request: pytest.FixtureRequest, name: str) -> None:
    folder = SHOTS / request.node.name
    browser.screenshot(folder / f"{name}-phone.png", PHONE, 844)
    browser.screenshot(folder / f"{name}-desktop.png", DESKTOP)
    assert (folder / f"{name}-phone.png").stat().st_size > 5000


def log_in(browser: Browser, url: str, username: str, password: str) -> None:
    browser.goto(url + "/")
    browser.fill("#username", username)
    browser.fill("#password", password)
    browser.click("#login-button")
    browser.wait_for("document.body.dataset.ready === '1'")


def rows(browser: Browser, selector: str) -> list[list[str]]:
    found: list[list[str]] = browser.evaluate(
        f"[...document.querySelectorAll({selector!r})]"
        ".map(tr => [...tr.children].map(td => td.textContent))"
    )
    return found


def message(browser: Browser, selector: str) -> str:
    text: str = browser.wait_for(f"(document.querySelector({selector!r})?.textContent || '')"
                                 ".replace('Working…', '')")
    return text


def submitted(browser: Browser, form: str, values: dict[str, str]) -> str:
    """Fills a form of the page (inputs named `<form>-<field>`), submits it, and
    returns what it says."""
    for name, value in values.items():
        browser.fill(f"#{form}-{name}", value)
    browser.click(f"#{form}-submit")
    return message(browser, f"#{form}-message")


def downloaded(folder: Path, name: str, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    path = folder / name
    while not path.exists() or path.stat().st_size == 0:
        assert time.monotonic() < deadline, f"{name} was not downloaded: {list(folder.iterdir())}"
        time.sleep(0.05)
    time.sleep(0.2)  # Chromium renames the finished file into place; let it close it
    return path.read_bytes()


def shifted(lines: Iterable[str], by_ms: int) -> list[str]:
    """Line-protocol lines moved in time (the physical model runs on a fixed day)."""
    out = []
    for text in lines:
        head, stamp = text.rsplit(" ", 1)
        out.append(f"{head} {int(stamp) + by_ms}")
    return out


def open_session(site: str, device: str, badge: str, start_ms: int, sid: int) -> str:
    tags = tag_suffix(("site", site), ("device", device), ("kind", "session_start"))
    fields = {"seq": int_field(sid), "sid": int_field(sid), "badge": string_field(badge),
              "ct_wh": int_field(1000)}
    return line("event", tags, fields, start_ms)


def test_coordinator_sees_the_cold_zone_and_acknowledges_the_alert(
    database_url: str, influxdb: InfluxDB, reader: InfluxClient,
    make_api: Callable[..., Api], browser: Browser, request: pytest.FixtureRequest,
) -> None:
    site = "mf1"  # the physical model's site
    api = make_api(influx=reader, site=site)
    member = api.ok("admin", "POST", "/members", json={"code": "A", "name": "Atelier A"})
    api.ok("admin", "POST", "/badges", json={"member_id": member["id"], "uid": "04:0A:0A:0A"})
    device = api.ok("admin", "POST", "/devices", json={"name": "laser1", "role": "machine"})
    api.ok("admin", "POST", "/machines",
           json={"code": "laser", "rated_power_w": 3000, "device_id": device["id"]})
    # The boiler's morning, moved so that it ends now: the burner fails at 06:00
    # when the thermostat starts calling; the pump keeps running through cold radiators.
    now_ms = int(time.time() * 1000) // 10_000 * 10_000
    start, fail, end = ms("2026-11-02T00:00"), ms("2026-11-02T06:00"), ms("2026-11-02T09:00")
    boiler = Heating(zones=2, failed=[(fail, end)])
    shift = now_ms - end
    badge = badge_hash(parse_key(BADGE_KEY), uid_from_hex("04:0A:0A:0A"))
    influxdb.write([
        *shifted(boiler.series(start, end), shift),
        *shifted(heartbeat("boiler1", "heating", start, end), shift),
        *shifted(Machine("laser1").series(start, end, 60), shift),
        *shifted(heartbeat("laser1", "machine", start, end), shift),
        open_session(site, "laser1", badge, now_ms - 20 * 60_000, 7),
    ])
    # The real alert service, one pass at this moment, on the api's database.
    source = influxdb.client()
    service = AlertService(source, RulesConfig(), api.factory, Dispatcher([], api.factory))
    found, _ = service.evaluate_once(now_ms)
    source.close()
    assert "heating" in [f.kind for f in found]
    with api.session() as session:
        alert = session.scalars(select(Alert).where(Alert.kind == "heating")).one()
    rollup.bootstrap(reader, 0)  # the rollups the week's chart reads (the api does this at start)
    rollup.run(reader)

    with served(database_url, reader, site=site) as url:
        log_in(browser, url, "coordinator", "coordinator-password")
        assert browser.evaluate("document.body.dataset.view") == "building"
        zones = {r[0]: r for r in rows(browser, "#zones tbody tr")}
        assert set(zones) == {"boiler1 zone1", "boiler1 zone2"}
        assert zones["boiler1 zone1"][3] == "cold" and zones["boiler1 zone2"][3] == "cold"
        assert float(zones["boiler1 zone1"][1].split()[0]) < 15.0
        assert zones["boiler1 zone1"][2] == "16.0 °C"  # the alert rules' setpoint
        assert rows(browser, "#boilers tbody tr")[0][:2] == ["boiler1", "calling"]
        nodes = {r[0]: r[2] for r in rows(browser, "#nodes tbody tr")}
        assert nodes == {"boiler1": "online", "laser1 (laser)": "online"}
        in_use = rows(browser, "#machines-in-use tbody tr")
        assert [r[:2] for r in in_use] == [["laser", "A"]]
        card = f".alert[data-alert='{alert.id}']"
        assert browser.evaluate(f"document.querySelector(\"{card}\").dataset.state") == "firing"
        assert rows(browser, f"{card} table tbody tr"), "the alert shows no evidence"
        browser.wait_for("document.querySelector('#charts').dataset.range === '24h'")
        assert int(browser.evaluate("document.querySelector('#charts').dataset.points")) == 288
        assert browser.evaluate("document.querySelectorAll('#chart-heating canvas').length") == 1
        shots(browser, request, "1-cold-zone-alert")

        browser.click(f"{card} button.ack")
        browser.wait_for(f"document.querySelector(\"{card}\")?.dataset.state === 'acknowledged'")
        assert "Acknowledged by coordinator" in browser.evaluate(
            f"document.querySelector(\"{card}\").textContent")
        stored = api.ok("coordinator", "GET", f"/alerts/{alert.id}")
        assert stored["state"] == "acknowledged" and stored["acknowledged_by"] == "coordinator"
        history = rows(browser, "#alert-history tbody tr")
        assert any(r[1] == "heating" for r in history)

        browser.click("button[data-range='7d']")
        browser.wait_for("document.querySelector('#charts').dataset.range === '7d'")
        assert int(browser.evaluate("document.querySelector('#charts').dataset.points")) == 168
        assert "rollup_15m" in browser.evaluate("document.querySelector('#charts').textContent")
        shots(browser, request, "2-acknowledged-week-chart")
    assert browser.errors == []


def test_treasurer_enters_runs_reviews_closes_and_exports(
    database_url: str, influxdb: InfluxDB, reader: InfluxClient, make_api: Callable[..., Api],
    browser: Browser, request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    api, _, _ = populate(influxdb, make_api)  # two members, a laser and a CNC, 1-2 March
    folder = tmp_path / "downloads"
    folder.mkdir()
    with served(database_url, reader) as url:
        log_in(browser, url, "treasurer", "treasurer-password")
        browser.allow_downloads(folder)
        assert browser.evaluate("document.body.dataset.view") == "bills"
        assert "Add a tariff first" in browser.evaluate("document.body.textContent")
        browser.fill("#tariff-form-name", "flat")
        browser.fill("#tariff-form-peak_from", "")  # one band, all day
        browser.click("#tariff-form-submit")
        assert "Tariff flat added (bands all)" in message(browser, "#tariff-form-message")
        browser.wait_for("!!document.querySelector('#bill-form-kwh_all')")

        def enter(first: str, last: str) -> None:
            for name, value in (("period_start", first), ("period_end", last),
                                ("kwh_all", "500"), ("cost_all", "100.00"),
                                ("fixed_cost", "20.00")):
                browser.fill(f"#bill-form-{name}", value)
            browser.click("#bill-form-submit")

        enter("2026-03-02", "2026-03-01")  # the wrong way round: refused in words
        assert message(browser, "#bill-form-message") == (
            "body: Value error, period ends (2026-03-01) before it starts (2026-03-02)")
        assert api.ok("treasurer", "GET", "/bills") == []
        enter("2026-03-01", "2026-03-02")
        assert "saved" in message(browser, "#bill-form-message")
        browser.wait_for("!!document.querySelector('#no-split')")
        shots(browser, request, "1-bill-entered")

        # A gas bill of another month: entered, checked by the api, not split with this one.
        browser.fill("#bill-kind", "gas")
        browser.wait_for("!!document.querySelector('#gas-form-cost')")
        for name, value in (("period_start", "2026-02-01"), ("period_end", "2026-02-28"),
                            ("cost", "300.00"), ("alpha", "1.5")):
            browser.fill(f"#gas-form-{name}", value)
        browser.click("#gas-form-submit")  # alpha beyond 1: the browser's own check stops it
        assert browser.evaluate("document.querySelector('#gas-form-alpha').validity.rangeOverflow")
        assert browser.evaluate("document.querySelector('#gas-form-message').textContent") == ""
        assert api.ok("treasurer", "GET", "/gas-bills") == []
        browser.fill("#gas-form-alpha", "0.4")
        browser.click("#gas-form-submit")
        assert message(browser, "#gas-form-message").startswith("Gas bill ")
        [gas] = api.ok("treasurer", "GET", "/gas-bills")
        assert (gas["cost"], gas["alpha"]) == ("300.00", "0.4")
        browser.fill("#bill-kind", "electricity")
        browser.wait_for("!!document.querySelector('#bill-form-kwh_all')")

        browser.click("#run-split")
        browser.wait_for("document.querySelectorAll('#split tbody tr').length === 3")
        split = {r[0]: r for r in rows(browser, "#split tbody tr")}
        assert set(split) == {"A", "B", "vacancy"}
        assert browser.evaluate("document.getElementById('split-total').textContent") == "120.00"
        assert sum(round(float(r[5]) * 100) for r in split.values()) == 12000
        assert split["A"][6] == "new"  # no earlier bill to compare with
        lines = browser.evaluate("[...document.querySelectorAll('#split-lines summary')]"
                                 ".map(s => s.textContent)")
        assert lines[0].startswith("A: ") and len(lines) == 3
        band = rows(browser, "#reconciliation tbody tr")[0]
        assert band[0] == "all" and band[1] == "500" and float(band[2]) > 0
        bill = api.ok("treasurer", "GET", "/bills")[0]
        run = api.ok("treasurer", "GET", f"/bills/{bill['id']}/splits")[-1]
        stored = api.ok("treasurer", "GET", f"/splits/{run['id']}")["result"]
        assert {c: st["total"] for c, st in stored["members"].items()} == {
            "A": split["A"][5], "B": split["B"][5]}

        browser.click("#csv")
        csv_text = downloaded(folder, f"split-{run['id']}.csv").decode()
        assert csv_text.splitlines()[0].startswith("entry,pool,item")
        assert f"A,total,,,,,,,{split['A'][5]}," in csv_text
        browser.click("button[data-member='A']")
        pdf = downloaded(folder, f"statement-{run['id']}-A.pdf")
        assert pdf.startswith(b"%PDF") and len(pdf) > 800

        browser.evaluate("window.confirm = () => true")  # the user's OK in the dialog
        browser.click("#close-bill")
        browser.wait_for("document.querySelector('#review h3').textContent.includes('closed')")
        assert api.ok("treasurer", "GET", "/bills")[0]["closed_at"] is not None
        assert browser.evaluate("document.querySelector('#run-split')") is None
        shots(browser, request, "2-split-closed")
    assert browser.errors == []


def test_member_sees_own_session_machines_and_statement_only(
    database_url: str, influxdb: InfluxDB, reader: InfluxClient, make_api: Callable[..., Api],
    browser: Browser, request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    api = make_api(influx=reader)
    ids = build_worked_example(api)
    run = api.ok("treasurer", "POST", f"/bills/{ids['bill']}/splits",
                 json={"manual": ids["manual"]})
    a, b = ids["members"]["A"], ids["members"]["B"]
    api.ok("admin", "POST", "/badges", json={"member_id": a, "uid": "04:0A:0A:0A"})
    api.ok("admin", "POST", "/badges", json={"member_id": b, "uid": "04:0B:0B:0B"})
    for username, member in (("alice", a), ("bob", b)):
        api.ok("admin", "POST", "/users", json={"username": username, "role": "member",
                                                "password": f"{username}-password",
                                                "member_id": member})
    node = api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})
    laser = api.ok("admin", "POST", "/machines",
                   json={"code": "laser", "rated_power_w": 2000, "device_id": node["id"]})
    kiln = api.ok("admin", "POST", "/machines", json={"code": "kiln", "rated_power_w": 5000})
    expiry = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    api.ok("admin", "POST", "/trainings",
           json={"member_id": a, "machine_id": laser["id"], "expires_on": expiry})
    api.ok("admin", "POST", "/trainings", json={"member_id": a, "machine_id": kiln["id"]})
    api.ok("admin", "POST", "/trainings", json={"member_id": b, "machine_id": kiln["id"]})
    now = time.time()
    stamp = lambda s: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))  # noqa: E731
    alice_badge = badge_hash(parse_key(BADGE_KEY), uid_from_hex("04:0A:0A:0A"))
    bob_badge = badge_hash(parse_key(BADGE_KEY), uid_from_hex("04:0B:0B:0B"))
    influxdb.write([
        *session_lines(SITE, "node1", 1, alice_badge, stamp(now - 7200), stamp(now - 3600), 1,
                       (0, 1500)),
        *session_lines(SITE, "node1", 2, bob_badge, stamp(now - 3000), stamp(now - 2400), 5,
                       (1500, 1900)),
    ])
    folder = tmp_path / "downloads"
    folder.mkdir()
    # What the api itself says to alice about others: nothing.
    headers = {"Authorization": "Bearer " + api.client.post(
        "/auth/token", json={"username": "alice", "password": "alice-password"}
    ).json()["access_token"]}
    for path in (f"/splits/{run['id']}/statements/{b}", f"/splits/{run['id']}/statements/{b}/pdf",
                 f"/sessions?member_id={b}", "/building/now", "/alerts", f"/members/{b}"):
        assert api.client.get(path, headers=headers).status_code == 403, path

    with served(database_url, reader) as url:
        # Logged in with the keyboard only: labels, focus order and Enter work.
        browser.goto(url + "/")
        browser.evaluate("document.getElementById('username').focus()")
        browser.type("alice")
        browser.press("Tab")
        assert browser.evaluate("document.activeElement.id") == "password"
        browser.type("alice-password")
        browser.press("Enter")
        browser.wait_for("document.body.dataset.ready === '1'")
        browser.allow_downloads(folder)
        assert browser.evaluate("document.body.dataset.view") == "me"
        assert browser.evaluate("[...document.querySelectorAll('#nav a')].map(a => a.text)") == [
            "Me"]
        sessions = rows(browser, "#sessions tbody tr")
        assert len(sessions) == 1, sessions  # bob's session is not here
        machine, _, _, minutes, kwh, cost = sessions[0]
        assert (machine, minutes, kwh) == ("laser", "60", "1.500")
        price = api.ok("treasurer", "GET", "/me/price")["per_kwh"]  # the bill's energy price
        assert cost == f"{1.5 * float(price):.2f}" and float(cost) > 0
        machines = {r[0]: r for r in rows(browser, "#my-machines tbody tr")}
        assert machines["laser"][1:] == [expiry, "free"]
        assert machines["kiln"][1:] == ["no expiry", "out of order"]  # no node behind it
        heading = browser.evaluate("document.querySelector('#statements h3').textContent")
        assert heading.startswith("2026-") and ": 502.78" in heading
        amounts = browser.evaluate(
            "[...document.querySelectorAll('#statements td.amount')].map(td => td.textContent)")
        assert sum(round(float(x) * 100) for x in amounts) == 50278
        page = browser.evaluate("document.body.innerText")
        assert "470.56" not in page and "Member B" not in page  # B's total and name
        browser.click("#statements button.pdf")
        pdf = downloaded(folder, f"statement-{run['id']}-A.pdf")
        assert pdf.startswith(b"%PDF")
        shots(browser, request, "1-member")
        # The page cannot be talked into another member's statement either.
        answer = browser.evaluate(
            f"fetch('/splits/{run['id']}/statements/{b}', {{headers: {{Authorization: "
            "'Bearer ' + sessionStorage.getItem('token')}}).then(r => r.status)")
        assert answer == 403
    assert browser.errors == []


STRANGER_CARD = "04:5A:5A:5A"  # never enrolled


def test_admin_enrols_a_member_with_a_badge_and_a_training(
    database_url: str, influxdb: InfluxDB, reader: InfluxClient, mosquitto: Mosquitto,
    make_api: Callable[..., Api], browser: Browser, request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """...and that badge then opens the machine: the node's config as the
    browser saved it, run by the firmware's own code in the simulator against
    the real broker (the gateway stores what the node says, and the building
    view shows the machine in use by the member); a card never enrolled does
    not open it."""
    broker = {"mqtt_host": mosquitto.host, "mqtt_port": mosquitto.port,
              "mqtt_username": API_USER, "mqtt_password": API_PASSWORD,
              "node_mqtt_host": mosquitto.host, "node_mqtt_port": mosquitto.port}
    api = make_api(influx=reader, **broker)
    folder = tmp_path / "downloads"
    folder.mkdir()
    gateway = GatewayProcess(tmp_path / "gateway", mosquitto, influxdb,
                             mqtt_username=GATEWAY_USER, mqtt_password=GATEWAY_PASSWORD,
                             batch_interval_s=0.05)
    gateway.start()
    with served(database_url, reader, **broker) as url, contextlib.closing(gateway):
        browser.allow_downloads(folder)
        log_in(browser, url, "admin", "admin-password")
        # To the Admin view with the keyboard: Tab reaches the link, Enter follows it.
        for _ in range(20):  # through the building view's buttons, round to the top
            browser.press("Tab")
            if browser.evaluate("document.activeElement.textContent") == "Admin":
                break
        assert browser.evaluate("document.activeElement.getAttribute('href')") == "#/admin"
        browser.press("Enter")
        browser.wait_for("document.body.dataset.ready === '1' && !!document.getElementById"
                         "('admin')")

        def submit(form: str, values: dict[str, str]) -> str:
            return submitted(browser, form, values)

        assert submit("member-form", {"code": "D", "name": "Dora's workshop",
                                      "email": "dora@example.org"}) == "Member D added."
        created = submit("device-form", {"name": "node3", "role": "machine"})
        assert created.startswith("Device node3 added. Its MQTT password, shown once: ")
        device = next(d for d in api.ok("admin", "GET", "/devices") if d["name"] == "node3")
        assert submit("machine-form", {"code": "laser", "rated_power_w": "3000",
                                       "device_id": str(device["id"])}) == "Machine laser added."
        dora = next(m for m in api.ok("admin", "GET", "/members") if m["code"] == "D")
        # A UID of two bytes is refused, in words, and nothing is stored.
        refused = submit("badge-form", {"member_id": str(dora["id"]), "uid": "04:0D"})
        assert refused == "badge uid has 2 bytes; card UIDs have 4, 7 or 10"
        assert api.ok("admin", "GET", "/badges") == []
        enrolled = submit("badge-form", {"member_id": str(dora["id"]), "uid": "04:0D:0D:0D"})
        assert enrolled.startswith("Badge ") and "enrolled for D" in enrolled
        laser = next(m for m in api.ok("admin", "GET", "/machines") if m["code"] == "laser")
        assert submit("training-form", {"member_id": str(dora["id"]),
                                        "machine_id": str(laser["id"])}) == "D may use laser."
        assert submit("user-form", {"username": "dora", "password": "dora-password",
                                    "role": "member", "member_id": str(dora["id"])}) == (
            "Login dora (member, D) created.")
        # A second card, tapped on node3's reader: the node refused it and reported its
        # hash (as the gateway stores it); the admin enrols it from the page.
        tapped = "5e5e5e5e5e5e5e5e"
        tags = tag_suffix(("site", SITE), ("device", "node3"), ("kind", "badge"))
        influxdb.write([line("event", tags, {"seq": int_field(1), "badge": string_field(tapped),
                                             "ok": "false"}, int(time.time() * 1000) - 20_000)])
        said = submit("tap-form", {"member_id": str(dora["id"]), "device": "node3"})
        assert said.endswith("(the card tapped on node3) enrolled for D."), said
        # The node's view: the retained allow-list on its own topic holds D's two badges.
        expected = badge_hash(parse_key(BADGE_KEY), uid_from_hex("04:0D:0D:0D"))
        listener = AclListener(mosquitto, "node3")
        try:
            _, retained, payload = listener.next()
        finally:
            listener.close()
        assert retained and sorted(payload["allow"]) == sorted([expected, tapped])
        assert [r[0] for r in rows(browser, "#badges tbody tr")] == ["D", "D"]
        assert [r[:2] for r in rows(browser, "#trainings tbody tr")] == [["D", "laser"]]
        audit = [r[2] + " " + r[3].split()[0] for r in rows(browser, "#audit tbody tr")]
        for entry in ("create member", "create badge", "create training", "create user_account"):
            assert entry in audit, audit
        # The node's config.json, from the provisioning route, saved by the browser.
        browser.click("button[aria-label='Download the config of node3']")
        said = message(browser, "#devices-message")
        assert said.startswith("Config of node3 downloaded"), said
        saved = json.loads(browser.evaluate("document.body.dataset.lastDownload"))
        assert saved["name"] == "node3.json" and saved["size"] > 500, saved
        shots(browser, request, "1-enrolled")

        # The file Chromium saved is the node's config: node3 runs from it.
        saved_file = downloaded(folder, "node3.json")
        assert len(saved_file) == saved["size"]
        config = json.loads(saved_file)
        assert (config["device"], config["mqtt"]["port"]) == ("node3", mosquitto.port)
        let_devices_log_in(api, mosquitto)  # its new password, as the broker's passwd
        version = api.ok("admin", "GET", f"/machines/{laser['id']}/acl")["version"]
        cards = {"D": "04:0D:0D:0D", "stranger": STRANGER_CARD}
        loop = VirtualTimeLoop()
        loop.follow_real_clock()
        powered_ms = int(time.time() * 1000)
        fleet = machine_node(config, cards, tmp_path / "flash")
        node = fleet.node("node3")
        try:
            async def badge_in() -> bool:
                fleet.start()
                await until(lambda: node.node is not None and node.node.mqtt.connected, 30,
                            "node3 logs in with the config's password", real_s=30)
                await until(lambda: node.node is not None
                            and node.node.role.decider.acl.ver == version, 30, "the ACL")
                return await tap(fleet, node, "D")

            assert run(loop, badge_in()), "D's badge did not open the laser"
            # The building view says so: the gateway stored the node's session event.
            for _ in range(100):
                browser.goto(url + "/#/")
                browser.wait_for("document.body.dataset.ready === '1' && "
                                 "!!document.getElementById('machines-in-use')")
                if rows(browser, "#machines-in-use tbody tr")[0][:2] == ["laser", "D"]:
                    break
                time.sleep(0.2)
            assert rows(browser, "#machines-in-use tbody tr")[0][:2] == ["laser", "D"]
            shots(browser, request, "2-the-badge-opens-the-laser")

            async def badge_out_then_a_stranger() -> tuple[bool, bool]:
                still = await tap(fleet, node, "D")
                return still, await tap(fleet, node, "stranger")

            still_closed, stranger_opened = run(loop, badge_out_then_a_stranger())
            assert not still_closed, "D's second tap did not end the session"
            assert not stranger_opened, "a card never enrolled opened the laser"
        finally:
            loop.run_until_complete(fleet.shutdown())
            loop.close()
        # What node3 said of each card reached InfluxDB through the gateway.
        stranger = badge_hash(parse_key(BADGE_KEY), uid_from_hex(STRANGER_CARD))
        said_by_node3 = ('SELECT "badge", "ok", "reason" FROM "event" WHERE "device" = '
                         f"'node3' AND \"kind\" = 'badge' AND time >= {powered_ms}ms")
        decisions = []
        for _ in range(50):
            decisions = [(row["badge"], row["ok"], row["reason"])
                         for series in influxdb.query(said_by_node3) for row in series.rows]
            if len(decisions) == 2:
                break
            time.sleep(0.1)
        assert decisions == [(expected, True, "allowed"), (stranger, False, "not_allowed")]
    assert json.dumps(browser.errors) == "[]"


def test_a_wrong_password_is_said_in_words(
    database_url: str, reader: InfluxClient, make_api: Callable[..., Api], browser: Browser,
) -> None:
    make_api(influx=reader)
    with served(database_url, reader) as url:
        browser.goto(url + "/")
        browser.fill("#username", "treasurer")
        browser.fill("#password", "not-the-password")
        browser.click("#login-button")
        said = browser.wait_for("document.getElementById('login-error').textContent")
        assert said == "wrong username or password"
        assert browser.evaluate("document.getElementById('login').hidden") is False
        assert browser.evaluate("document.getElementById('nav').children.length") == 0


def test_treasurer_closes_a_held_split_only_with_a_reason(
    database_url: str, influxdb: InfluxDB, reader: InfluxClient, make_api: Callable[..., Api],
    browser: Browser, request: pytest.FixtureRequest,
) -> None:
    api, _, _ = populate(influxdb, make_api)
    # 2 kWh on the bill, 3.6 kWh measured on the machines: beyond the tolerance, held.
    bill = _flat_bill(api, kwh="2", cost="1.00")
    assert api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]["held"] is True
    with served(database_url, reader) as url:
        log_in(browser, url, "treasurer", "treasurer-password")
        note = browser.evaluate("document.getElementById('split-note').textContent")
        assert "HELD" in note
        assert browser.evaluate("!!document.getElementById('close-bill')") is False
        assert browser.evaluate("[...document.querySelectorAll('#split-alerts li')]"
                                ".some(li => li.textContent.startsWith('Holds: band all'))")
        browser.click("#override-form-submit")  # no reason: the browser asks for one
        assert browser.evaluate("document.getElementById('override-form-override_held')"
                                ".validity.valueMissing")
        assert api.ok("treasurer", "GET", f"/bills/{bill}")["closed_at"] is None
        browser.fill("#override-form-override_held",
                     "meter read by hand; the machines' clamps over-read")
        browser.click("#override-form-submit")
        assert message(browser, "#review-message") == "Bill closed over the hold."
        assert "(closed" in browser.evaluate("document.querySelector('#review h3').textContent")
        shots(browser, request, "1-closed-over-the-hold")
    assert api.ok("treasurer", "GET", f"/bills/{bill}")["closed_at"] is not None
    audit = api.ok("admin", "GET", "/audit", params={"limit": 10})
    override = next(r for r in audit if r["action"] == "override_held")
    assert override["after"]["reason"] == "meter read by hand; the machines' clamps over-read"
    assert browser.errors == []
