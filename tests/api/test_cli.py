"""`python -m api.cli` against a real database: the daily work, and errors that
name the problem, exit 2 and store nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.cli import main
from api.db import make_engine, make_sessionmaker
from api.main import start_up
from api.models import Base
from api.settings import Settings
from devservers.process import free_port
from protocol import wire
from tests.api.conftest import BADGE_KEY, SITE
from tests.api.factories import worked_example

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv)
    assert code == 0, (argv, err)
    return json.loads(out.strip().splitlines()[-1]) if out.strip().startswith("{") else out.strip()


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return {
                n: session.scalar(select(func.count()).select_from(t)) or 0
                for n, t in Base.metadata.tables.items()
            }
    finally:
        engine.dispose()


def _bill_file(tmp_path: Path, **changes: Any) -> str:
    scenario = worked_example()
    bill: dict[str, Any] = {
        "tariff": {"name": "two-band", "bands": [{"name": "peak"}, {"name": "offpeak"}]},
        "period_start": scenario["period"]["start"],
        "period_end": scenario["period"]["end"],
        "bands": scenario["bill"]["bands"],
        "demand_cost": scenario["bill"]["demand"]["cost"],
        "fixed_cost": scenario["bill"]["fixed"],
    }
    bill.update(changes)
    path = tmp_path / f"bill-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(bill))
    return str(path)


def test_daily_work_and_the_worked_example(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = worked_example()
    for code in ("A", "B", "C"):
        assert ok(capsys, "add-member", code, f"Member {code}")["code"] == code
    for unit in scenario["units"]:
        ok(capsys, "add-unit", unit["id"], unit["area_m2"])
    for lease in scenario["leases"]:
        ok(capsys, "add-lease", lease["unit"], lease["member"], lease["from"], "--end", lease["to"])
    ok(capsys, "add-device", "node1", "--role", "machine")
    ok(capsys, "add-machine", "laser", "--rated-power-w", "3000", "--device", "node1")
    badge = ok(capsys, "enrol-badge", "A", "04:A2:1B:C3")
    assert len(badge["hash"]) == 16 and "uid" not in badge
    ok(capsys, "grant-training", "A", "laser", "--expires", "2099-12-31")
    ok(capsys, "create-user", "alice", "--member", "A", "--password", "alice-password")
    bill = ok(capsys, "import-bill", _bill_file(tmp_path))
    manual = tmp_path / "manual.json"
    manual.write_text(
        json.dumps(
            {
                "metered_kwh": scenario["metered_kwh"],
                "demand_intervals_kw": scenario["demand_intervals_kw"],
            }
        )
    )
    split = ok(capsys, "run-split", str(bill["id"]), "--manual", str(manual))
    assert split["total"] == "1251.11"
    out_csv, out_pdf = tmp_path / "split.csv", tmp_path / "a.pdf"
    ok(capsys, "export-split", str(split["split_id"]), str(out_csv))
    assert "A,total,,,,,,,502.78," in out_csv.read_text()
    ok(capsys, "export-split", str(split["split_id"]), str(out_pdf), "--pdf", "A")
    assert out_pdf.read_bytes().startswith(b"%PDF")
    audit = counts(cli_env["API_DATABASE_URL"])["audit_log"]
    assert audit >= 15  # one row (or more) for each change above


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("add-lease", "U1", "A", "2026-01-20"), "already leased"),
        (("add-member", "A", "Again"), "member code A is taken"),
        (("enrol-badge", "Z", "04:A2:1B:C3"), "no member 'Z'"),
        (("grant-training", "A", "nosuchmachine"), "no machine 'nosuchmachine'"),
        (("add-unit", "U9", "-5"), "greater than or equal to 0"),
        (("run-split", "99"), "no bill 99"),
        (("import-bill", "/nonexistent/bill.json"), "cannot read /nonexistent/bill.json"),
    ],
)
def test_errors_name_the_problem_and_store_nothing(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], words: str
) -> None:
    ok(capsys, "add-member", "A", "Alpha")
    ok(capsys, "add-unit", "U1", "100")
    ok(capsys, "add-lease", "U1", "A", "2026-01-01")
    before = counts(cli_env["API_DATABASE_URL"])
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err, err
    assert counts(cli_env["API_DATABASE_URL"]) == before


BAD_BILLS = {
    "negative cost": (
        {"fixed_cost": "-1.00"},
        "fixed_cost: Input should be greater than or equal to 0",
    ),
    "unknown band": (
        {"bands": [{"name": "night", "kwh": "5", "cost": "1.00"}]},
        "unknown band 'night'",
    ),
    "zero kWh": (
        {
            "bands": [
                {"name": "peak", "kwh": "0", "cost": "0"},
                {"name": "offpeak", "kwh": "0", "cost": "0"},
            ]
        },
        "zero kWh",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_BILLS))
def test_bad_bill_file(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    ok(capsys, "import-bill", _bill_file(tmp_path))  # creates the tariff
    before = counts(cli_env["API_DATABASE_URL"])
    changes, words = BAD_BILLS[case]
    code, _, err = run(capsys, "import-bill", _bill_file(tmp_path, **changes))
    assert code == 2 and words in err, err
    assert counts(cli_env["API_DATABASE_URL"]) == before


def test_as_a_program(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, **cli_env}
    good = subprocess.run(
        [sys.executable, "-m", "api.cli", "add-member", "P", "Pottery"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert good.returncode == 0 and json.loads(good.stdout)["code"] == "P"
    bad = subprocess.run(
        [sys.executable, "-m", "api.cli", "add-member", "P", "Again"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "member code P is taken" in bad.stderr


def test_acls_and_passwd(
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    mosquitto: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import paho.mqtt.client as mqtt

    from protocol import wire
    from tests.conftest import API_PASSWORD, API_USER, DEVICE_PASSWORD

    monkeypatch.setenv("API_MQTT_PORT", str(mosquitto.port))
    monkeypatch.setenv("API_MQTT_USERNAME", API_USER)
    monkeypatch.setenv("API_MQTT_PASSWORD", API_PASSWORD)
    ok(capsys, "add-member", "A", "Alpha")
    ok(capsys, "add-device", "node1", "--role", "machine")
    ok(capsys, "add-machine", "laser", "--rated-power-w", "3000", "--device", "node1")
    badge = ok(capsys, "enrol-badge", "A", "04:A2:1B:C3")
    ok(capsys, "grant-training", "A", "laser")
    assert ok(capsys, "publish-acls") == {"published": 1}
    received: list[dict[str, Any]] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cli-acl-check")
    client.username_pw_set("node1", DEVICE_PASSWORD)
    client.on_message = lambda _c, _u, m: received.append(wire.decode("acl", m.payload))
    client.connect(mosquitto.host, mosquitto.port)
    client.subscribe(wire.topic(SITE, "node1", "acl"), qos=1)
    client.loop_start()
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    assert received and received[-1]["allow"] == [badge["hash"]]
    _command_reaches_the_node(capsys, mosquitto)
    passwd = tmp_path / "passwd"
    ok(capsys, "export-passwd", str(passwd))
    assert passwd.read_text().startswith("node1:$7$")


def _command_reaches_the_node(capsys: pytest.CaptureFixture[str], mosquitto: Any) -> None:
    """`send-command`: signed with the key the node's provisioning gets
    (api.services.downlink.device_key), with a version above the ACL's."""
    import paho.mqtt.client as mqtt

    from api.services.downlink import device_key
    from protocol import downlink
    from tests.conftest import DEVICE_PASSWORD

    got: list[bytes] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cli-cmd-check")
    client.username_pw_set("node1", DEVICE_PASSWORD)
    client.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    subscribed: list[int] = []
    client.on_subscribe = lambda *_a: subscribed.append(1)
    client.connect(mosquitto.host, mosquitto.port)
    client.subscribe(wire.topic(SITE, "node1", "cmd"), qos=1)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not subscribed and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = ok(capsys, "send-command", "node1", "relay_off")
        while not got and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    key = bytes.fromhex(device_key(Settings(), SITE, "node1"))
    downlink.check("cmd", key, got[-1])
    msg = wire.decode("cmd", got[-1])
    assert msg["op"] == "relay_off" and msg["ver"] == sent["version"]
    code, _, err = run(capsys, "send-command", "node1", "config", "--args", "{not json")
    assert code == 2 and "--args is not JSON" in err


def test_add_device_and_revoke_device_reach_the_site_broker(
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    site_mosquitto: Any,
) -> None:
    """The admin's `add-device` prints a password the broker takes at once;
    `revoke-device` takes it away; with the broker away nothing is stored."""
    from pydantic import SecretStr

    from broker import MqttSettings
    from tests.broker.probe import Probe
    from tests.conftest import SERVICE_PASSWORDS

    monkeypatch.setenv("API_DEVICE_LOGINS", "dynsec")
    monkeypatch.setenv("API_MQTT_PORT", str(site_mosquitto.port))
    monkeypatch.setenv("API_MQTT_PASSWORD", SERVICE_PASSWORDS["api"])
    code, _, err = run(capsys, "add-device", "drill", "--role", "machine")
    assert code == 0, err
    password = err.split("(shown once): ")[1].strip()
    login = MqttSettings(mqtt_host=site_mosquitto.host, mqtt_port=site_mosquitto.port,
                         mqtt_username="drill", mqtt_password=SecretStr(password))
    with Probe(login) as drill:
        assert drill.connect().value == 0
        assert drill.publish(wire.topic(SITE, "drill", "status"))
    assert ok(capsys, "revoke-device", "drill")["revoked_at"] is not None
    assert Probe(login).connect().is_failure
    monkeypatch.setenv("API_MQTT_PORT", str(free_port()))
    before = counts(cli_env["API_DATABASE_URL"])
    code, _, err = run(capsys, "add-device", "saw", "--role", "machine")
    assert code == 2 and "unreachable" in err
    assert counts(cli_env["API_DATABASE_URL"]) == before


def test_refuses_a_database_that_is_not_the_apis(
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Aimed at a database the api never made (a new file, an empty PostgreSQL
    database, another site), the CLI says how to aim it and creates nothing."""
    monkeypatch.setenv("API_BADGE_HASH_KEY", BADGE_KEY)
    monkeypatch.setenv("API_SITE", SITE)
    monkeypatch.setenv("API_DATABASE_URL", database_url)
    code, _, err = run(capsys, "add-member", "A", "Alpha")
    assert code == 2
    assert ("there is no database file" in err) if "sqlite" in database_url else (
        "holds no api tables" in err
    ), err
    assert "--env-file" in err and "--init" in err
    assert not (tmp_path / "api.db").exists()
    # --init makes it; the same command then works without it.
    assert ok(capsys, "--init", "add-member", "A", "Alpha")["code"] == "A"
    assert ok(capsys, "add-member", "B", "Beta")["code"] == "B"
    monkeypatch.setenv("API_SITE", "elsewhere")
    code, _, err = run(capsys, "add-member", "C", "Gamma")
    assert code == 2 and f"has no site 'elsewhere' (its sites: {SITE}; set API_SITE)" in err
    monkeypatch.setenv("API_SITE", SITE)
    assert counts(database_url)["member"] == 2


def test_as_the_docs_say_from_another_folder(database_url: str, tmp_path: Path) -> None:
    """Run with no settings in a folder of its own (the mistake of issue 10: it used
    to make ./workshop.db there), then aimed with --env-file as `make run` prints."""
    start_up(Settings(database_url=database_url, site=SITE, badge_hash_key=BADGE_KEY)).dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lost = subprocess.run(
        [sys.executable, "-m", "api.cli", "add-member", "P", "Pottery"],
        env=env, capture_output=True, text=True, cwd=elsewhere,
    )
    assert lost.returncode == 2, lost.stderr
    assert f"there is no database file {elsewhere / 'workshop.db'}" in lost.stderr
    assert list(elsewhere.iterdir()) == []
    env_file = tmp_path / "api.env"
    env_file.write_text(
        f"API_DATABASE_URL={database_url}\nAPI_SITE={SITE}\nAPI_BADGE_HASH_KEY={BADGE_KEY}\n"
        f"API_MQTT_PORT={free_port()}\n"
    )
    aimed = subprocess.run(
        [sys.executable, "-m", "api.cli", "--env-file", str(env_file),
         "add-member", "P", "Pottery"],
        env=env, capture_output=True, text=True, cwd=elsewhere,
    )
    assert aimed.returncode == 0, aimed.stderr
    assert counts(database_url)["member"] == 1 and list(elsewhere.iterdir()) == []
