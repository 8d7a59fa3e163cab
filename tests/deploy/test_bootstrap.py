"""`python -m deploy.bootstrap` turns a site's .env into the broker's service
logins, the site CA and its certificates, and one env file per service;
refuses what is not a real secret (naming it), and changes nothing on a second
run unless .env changed; `python -m deploy.broker_init` puts the logins over
the broker's own file, keeps its devices, and copies the broker's
certificate into its volume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from broker import PasswordHash
from broker.accounts import SERVICE_LOGINS, device_role_name
from deploy import tls
from deploy.bootstrap import (
    BROKER_CERT,
    BROKER_KEY,
    BROKER_PASSWORDS,
    BROKER_SEED,
    CA_CERT,
    CA_KEY,
    CADDY_ENV,
    ENV_DIR,
    HTTPS_CERT,
    HTTPS_KEY,
    INFLUX_PASSWORDS,
)
from tests.deploy.site import ROOT, env_value, example_env, make_site

# What a first run writes, in order.
WRITTEN = [CA_CERT, CA_KEY, BROKER_CERT, BROKER_KEY, HTTPS_CERT, HTTPS_KEY, BROKER_SEED,
           ENV_DIR / "gateway.env", ENV_DIR / "api.env", ENV_DIR / "alerts.env", CADDY_ENV]


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
    assert first.stdout.splitlines() == [f"wrote {path}" for path in WRITTEN]
    seed = site / BROKER_SEED
    for path in WRITTEN:  # secrets and keys for the admin only; certificates for all
        mode = 0o644 if path.suffix == ".crt" else 0o600
        assert (site / path).stat().st_mode & 0o777 == mode, path
    found = hashes(site)
    assert list(found) == list(SERVICE_LOGINS)
    for login, variable in BROKER_PASSWORDS.items():
        password = env_value(site, variable)
        assert found[login] is not None and found[login].matches(password), login  # type: ignore[union-attr]
    roles = {r["rolename"]: r["acls"] for r in json.loads(seed.read_text())["roles"]}
    assert {"acltype": "publishClientSend", "topic": "mf/our-building/+/acl", "priority": 0,
            "allow": True} in roles["api"]
    before = {path: (site / path).read_bytes() for path in WRITTEN}
    second = bootstrap(site)
    assert second.returncode == 0
    assert second.stdout.splitlines() == [f"unchanged {path}" for path in WRITTEN]
    assert {path: (site / path).read_bytes() for path in WRITTEN} == before
    # One password changed in .env: only that login's hash changes.
    env = (site / ".env").read_text()
    old = env_value(site, "ALERTS_MQTT_PASSWORD")
    (site / ".env").write_text(env.replace(f"ALERTS_MQTT_PASSWORD={old}",
                                           "ALERTS_MQTT_PASSWORD=rotated-secret"))
    third = bootstrap(site)
    assert [line for line in third.stdout.splitlines() if line.startswith("wrote")] == [
        f"wrote {BROKER_SEED}", f"wrote {ENV_DIR / 'alerts.env'}"]
    after = hashes(site)
    assert [login for login in SERVICE_LOGINS if after[login] != found[login]] == ["alerts"]
    assert after["alerts"].matches("rotated-secret")  # type: ignore[union-attr]


def test_placeholders_and_missing_secrets_are_refused_by_name(tmp_path: Path) -> None:
    example = make_site(tmp_path / "example", (ROOT / ".env.example").read_text())
    refused = bootstrap(example)
    assert refused.returncode == 2
    for name in (*BROKER_PASSWORDS.values(), *INFLUX_PASSWORDS.values(),
                 "INFLUXDB_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "API_SECRET_KEY",
                 "API_BADGE_HASH_KEY", "API_DOWNLINK_KEY"):
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
    assert roles["alerts"] == {("publishClientSend", "alarms/#"),
                               ("subscribeLiteral", "mf-gateway/+/status"),
                               ("publishClientReceive", "mf-gateway/+/status")}


def _names(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(name.value) for name in san]


def test_the_site_ca_signs_the_servers_certificates_for_their_names(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", example_env(SERVER_NAMES="Workshop.LAN, 192.168.7.2"))
    assert bootstrap(site).returncode == 0
    ca = tls.KeyPair((site / CA_CERT).read_text(), (site / CA_KEY).read_text())
    broker = tls.KeyPair((site / BROKER_CERT).read_text(), (site / BROKER_KEY).read_text())
    https = tls.KeyPair((site / HTTPS_CERT).read_text(), (site / HTTPS_KEY).read_text())
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for server in (broker, https):
        server.cert.verify_directly_issued_by(ca.cert)
    assert _names(broker.cert) == ["workshop.lan", "192.168.7.2", "mosquitto", "localhost",
                                   "127.0.0.1"]
    assert _names(https.cert) == ["workshop.lan", "192.168.7.2", "localhost"]
    # New names: the servers' certificates are issued again, by the same CA.
    env = (site / ".env").read_text().replace("Workshop.LAN, 192.168.7.2", "workshop.lan")
    (site / ".env").write_text(env)
    again = bootstrap(site)
    assert [line for line in again.stdout.splitlines() if line.startswith("wrote")] == [
        f"wrote {path}" for path in (BROKER_CERT, BROKER_KEY, HTTPS_CERT, HTTPS_KEY)]
    assert (site / CA_CERT).read_text() == ca.cert_pem
    assert _names(x509.load_pem_x509_certificate((site / BROKER_CERT).read_bytes()))[0] == (
        "workshop.lan")
    # A certificate due for renewal is issued again; a broken CA key makes a new CA.
    assert not tls.server_usable(ca, broker, ["workshop.lan"])  # names changed
    (site / CA_KEY).write_text("not a key")
    renewed = bootstrap(site)
    assert f"wrote {CA_CERT}" in renewed.stdout.splitlines()
    new_ca = x509.load_pem_x509_certificate((site / CA_CERT).read_bytes())
    x509.load_pem_x509_certificate((site / HTTPS_CERT).read_bytes()).verify_directly_issued_by(
        new_ca)


def test_renewal_is_due_sixty_days_before_the_end() -> None:
    from datetime import UTC, datetime, timedelta

    ca = tls.new_ca("x")
    server = tls.issue(ca, ["a.lan"])
    now = datetime.now(UTC)
    assert tls.server_usable(ca, server, ["a.lan"], now)
    late = now + timedelta(days=tls.SERVER_DAYS - tls.RENEW_DAYS + 1)
    assert not tls.server_usable(ca, server, ["a.lan"], late)
    assert not tls.server_usable(tls.new_ca("other"), server, ["a.lan"], now)


def test_server_names_and_acme(tmp_path: Path) -> None:
    bad = make_site(tmp_path / "bad", example_env(SERVER_NAMES="workshop.lan,bad_name"))
    refused = bootstrap(bad)
    assert refused.returncode == 2 and "SERVER_NAMES: 'bad_name'" in refused.stderr
    assert not (bad / "deploy" / "generated").exists()
    acme = make_site(tmp_path / "acme", example_env(
        SERVER_NAMES="192.168.1.10,workshop.example.org", HTTPS_ACME_EMAIL="admin@example.org"))
    assert bootstrap(acme).returncode == 0
    assert not (acme / HTTPS_CERT).exists()  # Let's Encrypt's, fetched by Caddy
    assert (acme / CADDY_ENV).read_text() == (
        "HTTPS_SITE='workshop.example.org'\nHTTPS_TLS='admin@example.org'\n")
    only_ip = make_site(tmp_path / "ip", example_env(
        SERVER_NAMES="192.168.1.10", HTTPS_ACME_EMAIL="admin@example.org"))
    refused = bootstrap(only_ip)
    assert refused.returncode == 2 and "no host name for Let's Encrypt" in refused.stderr


def test_each_env_file_holds_its_own_prefix_only(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", example_env(GATEWAY_HA_DISCOVERY="true"))
    assert bootstrap(site).returncode == 0
    for service, prefix in (("gateway", "GATEWAY_"), ("api", "API_"), ("alerts", "ALERTS_")):
        names = [line.split("=", 1)[0]
                 for line in (site / ENV_DIR / f"{service}.env").read_text().splitlines()]
        assert names and all(name.startswith(prefix) for name in names), (service, names)
    gateway = (site / ENV_DIR / "gateway.env").read_text()
    assert "GATEWAY_HA_DISCOVERY='true'" in gateway
    assert f"GATEWAY_MQTT_PASSWORD='{env_value(site, 'GATEWAY_MQTT_PASSWORD')}'" in gateway
    # The master of the nodes' downlink keys: the api's alone.
    downlink_key = env_value(site, "API_DOWNLINK_KEY")
    assert f"API_DOWNLINK_KEY='{downlink_key}'" in (site / ENV_DIR / "api.env").read_text()
    for service in ("gateway", "alerts"):
        assert downlink_key not in (site / ENV_DIR / f"{service}.env").read_text(), service
    quoted = make_site(tmp_path / "quoted", example_env(API_SITE_TIMEZONE="a${b"))
    refused = bootstrap(quoted)
    assert refused.returncode == 2 and "API_SITE_TIMEZONE" in refused.stderr


def test_broker_init_copies_the_certificate_into_the_volume(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site")
    live = tmp_path / "volume" / "dynamic-security.json"
    certs = tmp_path / "volume" / "certs"

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "deploy.broker_init", str(site / BROKER_SEED), str(live),
             "--certs", str(site / BROKER_CERT.parent), str(certs)],
            capture_output=True, text=True, timeout=60, cwd=ROOT)

    missing = run()
    assert missing.returncode == 2 and "python -m deploy.bootstrap" in missing.stderr
    assert bootstrap(site).returncode == 0
    first = run()
    assert first.returncode == 0, first.stderr
    assert f"{certs} updated (broker.crt, broker.key)" in first.stdout
    assert (certs / "broker.crt").read_text() == (site / BROKER_CERT).read_text()
    assert (certs / "broker.key").stat().st_mode & 0o777 == 0o600
    assert f"{certs} unchanged" in run().stdout
