"""`python -m deploy.bootstrap` turns a site's .env into the broker's service
logins, refuses what is not a real secret (naming it), and changes nothing on a
second run unless .env changed; `python -m deploy.broker_init` puts them over
the broker's own file and keeps its devices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from broker import PasswordHash
from broker.accounts import SERVICE_LOGINS, device_role_name
from deploy.bootstrap import BROKER_PASSWORDS, BROKER_SEED
from tests.deploy.site import ROOT, env_value, example_env, make_site


def bootstrap(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.bootstrap", "--root", str(site)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def broker_init(seed: Path, live: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.broker_init", str(seed), str(live)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def hashes(site: Path) -> dict[str, PasswordHash | None]:
    seed = json.loads((site / BROKER_SEED).read_text())
    return {c["username"]: PasswordHash.from_dynsec(c) for c in seed["clients"]}


def test_the_logins_come_from_env_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    first = bootstrap(site)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"wrote {BROKER_SEED}"]
    seed = site / BROKER_SEED
    assert seed.stat().st_mode & 0o777 == 0o600  # hashes of the site's secrets
    found = hashes(site)
    assert list(found) == list(SERVICE_LOGINS)
    for login, variable in BROKER_PASSWORDS.items():
        password = env_value(site, variable)
        assert found[login] is not None and found[login].matches(password), login  # type: ignore[union-attr]
    roles = {r["rolename"]: r["acls"] for r in json.loads(seed.read_text())["roles"]}
    assert {"acltype": "publishClientSend", "topic": "mf/our-building/+/acl", "priority": 0,
            "allow": True} in roles["api"]
    before = seed.read_bytes(), seed.stat().st_mtime_ns
    second = bootstrap(site)
    assert second.returncode == 0 and second.stdout.splitlines() == [f"unchanged {BROKER_SEED}"]
    assert (seed.read_bytes(), seed.stat().st_mtime_ns) == before
    # One password changed in .env: only that login's hash changes.
    env = (site / ".env").read_text()
    old = env_value(site, "ALERTS_MQTT_PASSWORD")
    (site / ".env").write_text(env.replace(f"ALERTS_MQTT_PASSWORD={old}",
                                           "ALERTS_MQTT_PASSWORD=rotated-secret"))
    third = bootstrap(site)
    assert third.stdout.splitlines() == [f"wrote {BROKER_SEED}"]
    after = hashes(site)
    assert [login for login in SERVICE_LOGINS if after[login] != found[login]] == ["alerts"]
    assert after["alerts"].matches("rotated-secret")  # type: ignore[union-attr]


def test_placeholders_and_missing_secrets_are_refused_by_name(tmp_path: Path) -> None:
    example = make_site(tmp_path / "example", (ROOT / ".env.example").read_text())
    refused = bootstrap(example)
    assert refused.returncode == 2
    for name in (*BROKER_PASSWORDS.values(), "INFLUXDB_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
                 "API_SECRET_KEY", "API_BADGE_HASH_KEY"):
        assert name in refused.stderr, name
    assert not (example / "deploy" / "generated").exists()
    one = make_site(tmp_path / "one", example_env(GRAFANA_ADMIN_PASSWORD="changeme"))
    refused = bootstrap(one)
    assert refused.returncode == 2
    assert "placeholder: GRAFANA_ADMIN_PASSWORD (" in refused.stderr
    missing = make_site(tmp_path / "missing",
                        example_env().replace("MOSQUITTO_HEALTH_PASSWORD=", "#"))
    refused = bootstrap(missing)
    assert refused.returncode == 2 and "not set: MOSQUITTO_HEALTH_PASSWORD" in refused.stderr
    bad_site = make_site(tmp_path / "bad", example_env(API_SITE="Our Building"))
    refused = bootstrap(bad_site)
    assert refused.returncode == 2 and "API_SITE" in refused.stderr
    assert not (bad_site / "deploy" / "generated").exists()
    (tmp_path / "empty").mkdir()
    nothing = bootstrap(tmp_path / "empty")
    assert nothing.returncode == 2 and "copy .env.example to .env" in nothing.stderr


def test_broker_init_keeps_the_devices_and_takes_the_new_logins(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    live = tmp_path / "volume" / "dynamic-security.json"
    missing = broker_init(site / BROKER_SEED, live)
    assert missing.returncode == 2 and "python -m deploy.bootstrap" in missing.stderr
    assert bootstrap(site).returncode == 0
    assert broker_init(site / BROKER_SEED, live).stdout.strip().endswith("updated")
    # The broker added a device since (as the plugin writes its file).
    state = json.loads(live.read_text())
    state["clients"].append({"username": "lathe", "roles": [{"rolename": "device-lathe"}],
                             **PasswordHash.of("x").dynsec_fields()})
    state["roles"].append({"rolename": device_role_name("lathe"), "acls": []})
    live.write_text(json.dumps(state))
    assert broker_init(site / BROKER_SEED, live).stdout.strip().endswith("unchanged")
    env = (site / ".env").read_text()
    old = env_value(site, "API_MQTT_PASSWORD")
    (site / ".env").write_text(env.replace(f"API_MQTT_PASSWORD={old}", "API_MQTT_PASSWORD=new"))
    assert bootstrap(site).returncode == 0
    assert broker_init(site / BROKER_SEED, live).stdout.strip().endswith("updated")
    merged = json.loads(live.read_text())
    clients = {c["username"]: c for c in merged["clients"]}
    assert set(clients) == {*SERVICE_LOGINS, "lathe"}
    assert PasswordHash.from_dynsec(clients["api"]).matches("new")  # type: ignore[union-attr]
    assert device_role_name("lathe") in [r["rolename"] for r in merged["roles"]]
    live.write_text("{not json")
    broken = broker_init(site / BROKER_SEED, live)
    assert broken.returncode == 2 and "is not JSON" in broken.stderr


def _roles(site: Path) -> dict[str, set[tuple[str, str]]]:
    seed = json.loads((site / BROKER_SEED).read_text())
    return {r["rolename"]: {(a["acltype"], a["topic"]) for a in r["acls"]}
            for r in seed["roles"]}


def test_the_topics_follow_the_services_settings_in_env(tmp_path: Path) -> None:
    plain = make_site(tmp_path / "plain")
    assert bootstrap(plain).returncode == 0
    roles = _roles(plain)
    assert ("publishClientSend", "mf-alerts/#") in roles["alerts"]
    assert not any(topic.startswith("homeassistant") for _, topic in roles["gateway"])
    custom = make_site(tmp_path / "custom", example_env(
        GATEWAY_HA_DISCOVERY="true", GATEWAY_HA_PREFIX="ha", ALERTS_MQTT_PREFIX="alarms"))
    assert bootstrap(custom).returncode == 0
    roles = _roles(custom)
    assert ("publishClientSend", "ha/#") in roles["gateway"]
    assert roles["alerts"] == {("publishClientSend", "alarms/#")}
