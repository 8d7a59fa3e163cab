"""`python -m deploy.bootstrap`: turn the site's `.env` into every file the
services need before `docker compose up -d`.

A small pipeline: each step reads the site (its `.env` and what earlier runs
generated) and returns the files it wants; nothing is written unless every
step agreed, and a file whose content would not change is left alone, so a
second run changes nothing unless `.env` changed (or a certificate is due).
Everything goes under deploy/generated/ (not in git: it is made from the
secrets).

Steps: refuse missing or placeholder secrets; the site CA and the
certificates it signs (the broker's, the HTTPS proxy's); the broker's service
logins (Mosquitto's dynamic-security file, which the mosquitto-init service
merges into the broker's own before each start); one env file per container
holding only that service's own settings and secrets. InfluxDB's admin and
database are created by the influxdb image at its first start, the services'
InfluxDB users by the influxdb-init service (deploy/influx_init.py) before
each start, all from the same `.env` through docker-compose.yml."""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from broker.accounts import (
    ALERTS,
    ALERTS_PREFIX,
    ALERTS_READER,
    API,
    DISCOVERY_PREFIX,
    GATEWAY,
    HEALTH,
    service_accounts,
)
from deploy import tls
from deploy.files import write_if_changed
from deploy.influx_init import GRANTS as INFLUX_GRANTS
from deploy.influx_init import password_variable

GENERATED = Path("deploy") / "generated"
BROKER_SEED = GENERATED / "mosquitto" / "dynamic-security.json"
# The site CA: its certificate goes to every node and client; its key signs
# the server certificates and stays on the server (mounted in no container).
CA_CERT, CA_KEY = GENERATED / "tls" / "ca.crt", GENERATED / "tls" / "ca.key"
# The broker's, beside its logins: mosquitto-init copies both into its volume
# (the broker reads them after dropping root, so they must be its own).
BROKER_CERT = GENERATED / "mosquitto" / "certs" / "broker.crt"
BROKER_KEY = GENERATED / "mosquitto" / "certs" / "broker.key"
HTTPS_CERT, HTTPS_KEY = GENERATED / "https" / "https.crt", GENERATED / "https" / "https.key"
# How the broker is reached besides SERVER_NAMES: by its service name inside
# Compose's network, and on the server itself by local tools.
BROKER_INTERNAL_NAMES = ("mosquitto", "localhost", "127.0.0.1")
ENV_DIR = GENERATED / "env"
# Each container's env file holds the .env variables of its own prefix only:
# the gateway never sees the api's secret key, the badge key or the downlink key.
SERVICE_PREFIXES = {"gateway": "GATEWAY_", "api": "API_", "alerts": "ALERTS_"}
# Caddy's: the site certificate's files (as mounted) or, with ACME, an e-mail.
CADDY_ENV = ENV_DIR / "caddy.env"
HTTPS_FILES = "/certs/https.crt /certs/https.key"
# Which .env variable holds each broker login's password.
BROKER_PASSWORDS = {
    GATEWAY: "GATEWAY_MQTT_PASSWORD",
    API: "API_MQTT_PASSWORD",
    ALERTS: "ALERTS_MQTT_PASSWORD",
    HEALTH: "MOSQUITTO_HEALTH_PASSWORD",
    ALERTS_READER: "MQTT_ALERTS_READER_PASSWORD",
}
# Which .env variable holds each service's InfluxDB password (deploy/influx_init.py).
INFLUX_PASSWORDS = {user: password_variable(user) for user in INFLUX_GRANTS}
# What .env must set: the secrets (docker-compose.yml passes them on), the
# site, and the server's names on the LAN (its certificates name them).
REQUIRED = (
    *BROKER_PASSWORDS.values(),
    *INFLUX_PASSWORDS.values(),
    "INFLUXDB_ADMIN_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "API_SECRET_KEY",
    "API_BADGE_HASH_KEY",
    "API_DOWNLINK_KEY",
    "API_SITE",
    "SERVER_NAMES",
)
# .env.example's values: a site that kept one has not chosen its secrets.
PLACEHOLDERS = frozenset({"change-me", "changeme", "changethis"})
# How the services' settings (pydantic) read a true boolean.
TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})


class Refused(Exception):
    """The site's `.env` cannot be turned into a deployment; says what to fix."""


@dataclass(frozen=True)
class Site:
    root: Path
    env: Mapping[str, str]

    def value(self, name: str) -> str:
        value = self.env.get(name)
        if not value:
            raise Refused(f"{name} is not set in .env")
        return value

    def path(self, relative: Path) -> Path:
        return self.root / relative


@dataclass(frozen=True)
class Output:
    path: Path  # relative to the site's folder
    text: str
    mode: int = 0o600


Step = Callable[[Site], list[Output]]


def check_secrets(site: Site) -> list[Output]:
    missing = [name for name in REQUIRED if not site.env.get(name)]
    placeholders = sorted(name for name, value in site.env.items()
                          if (value or "").strip().lower() in PLACEHOLDERS)
    problems = []
    if missing:
        problems.append(f"not set: {', '.join(missing)}")
    if placeholders:
        problems.append(f"still the example's placeholder: {', '.join(placeholders)}")
    if problems:
        raise Refused("; ".join(problems) + " (set a real value in .env; a secret can be made "
                      "with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))')")
    return []


def broker_logins(site: Site) -> list[Output]:
    """The service logins and their roles, for Mosquitto's dynamic-security file;
    the prefixes the services publish under follow their settings in .env."""
    previous = None
    seed = site.path(BROKER_SEED)
    if seed.exists():
        try:
            previous = json.loads(seed.read_text())
        except ValueError:
            previous = None  # made again from .env
    passwords = {login: site.value(name) for login, name in BROKER_PASSWORDS.items()}
    discovery = ""
    if site.env.get("GATEWAY_HA_DISCOVERY", "").strip().lower() in TRUE:
        discovery = site.env.get("GATEWAY_HA_PREFIX") or DISCOVERY_PREFIX
    try:
        accounts = service_accounts(passwords, site.value("API_SITE"), previous,
                                    site.env.get("ALERTS_MQTT_PREFIX") or ALERTS_PREFIX,
                                    discovery)
    except ValueError as exc:  # the site name does not fit in a topic
        raise Refused(f"API_SITE: {exc}") from None
    return [Output(BROKER_SEED, json.dumps(accounts, indent=1) + "\n")]


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def server_names(site: Site) -> list[str]:
    """SERVER_NAMES: how nodes and browsers reach the server (host names and
    IP addresses, comma-separated)."""
    names = [name.strip().lower() for name in site.value("SERVER_NAMES").split(",")]
    bad = [name for name in names if not _is_address(name) and not _HOST_NAME.match(name)]
    if bad or not any(names):
        raise Refused(f"SERVER_NAMES: {', '.join(map(repr, bad)) or 'empty'} is not a host "
                      "name or an IP address (give the server's names and addresses on the "
                      "LAN, comma-separated, e.g. workshop.lan,192.168.1.10)")
    return names


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _held(site: Site, cert: Path, key: Path) -> tls.KeyPair | None:
    try:
        return tls.KeyPair(site.path(cert).read_text(), site.path(key).read_text())
    except OSError:
        return None


def acme_email(site: Site) -> str:
    """HTTPS_ACME_EMAIL: set, Caddy gets the web certificate from Let's Encrypt
    (a public DNS name needed); empty, the site CA signs it."""
    return site.env.get("HTTPS_ACME_EMAIL", "").strip()


def site_certificates(site: Site) -> list[Output]:
    """The site CA (made once, kept while it has years left) and the server
    certificates it signs, each kept while it still names SERVER_NAMES and
    has more than tls.RENEW_DAYS left."""
    names = server_names(site)
    ca = _held(site, CA_CERT, CA_KEY)
    if ca is None or not tls.ca_usable(ca):
        ca = tls.new_ca(site.value("API_SITE"))
    wanted = {(BROKER_CERT, BROKER_KEY): [*names, *BROKER_INTERNAL_NAMES]}
    if not acme_email(site):
        wanted[(HTTPS_CERT, HTTPS_KEY)] = [*names, "localhost"]
    outputs = [Output(CA_CERT, ca.cert_pem, 0o644), Output(CA_KEY, ca.key_pem)]
    for (cert, key), hosts in wanted.items():
        held = _held(site, cert, key)
        issued = held if held is not None and tls.server_usable(ca, held, hosts) else tls.issue(
            ca, hosts)
        outputs += [Output(cert, issued.cert_pem, 0o644), Output(key, issued.key_pem)]
    return outputs


def env_line(name: str, value: str) -> str:
    """One NAME='value' line, read back the same by Compose (python-dotenv's
    single quotes: \\ and \' escaped; it expands ${...} even there)."""
    if "\n" in value or "\r" in value or "${" in value:
        raise Refused(f"{name} holds a line break or '${{', which an env file cannot carry "
                      "unchanged")
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"{name}='{escaped}'\n"


def service_env(site: Site) -> list[Output]:
    """One env file per container: its own prefix's variables only; Caddy's
    says where its certificate comes from."""
    outputs = []
    for service, prefix in SERVICE_PREFIXES.items():
        lines = [env_line(name, value) for name, value in sorted(site.env.items())
                 if name.startswith(prefix)]
        outputs.append(Output(ENV_DIR / f"{service}.env", "".join(lines)))
    email = acme_email(site)
    if email:
        hosts = [name for name in server_names(site) if not _is_address(name)]
        if not hosts:
            raise Refused("HTTPS_ACME_EMAIL is set but SERVER_NAMES has no host name for "
                          "Let's Encrypt (it signs public DNS names only)")
        caddy = env_line("HTTPS_SITE", hosts[0]) + env_line("HTTPS_TLS", email)
    else:
        caddy = env_line("HTTPS_SITE", "https://") + env_line("HTTPS_TLS", HTTPS_FILES)
    outputs.append(Output(CADDY_ENV, caddy))
    return outputs


STEPS: tuple[Step, ...] = (check_secrets, site_certificates, broker_logins, service_env)


def bootstrap(root: Path, env_file: Path | None = None,
              steps: Sequence[Step] = STEPS) -> list[tuple[Path, bool]]:
    """Run every step, then write; returns (file, written) per output."""
    env_file = env_file or root / ".env"
    if not env_file.is_file():
        raise Refused(f"no {env_file}: copy .env.example to .env and set every secret")
    site = Site(root, {k: v or "" for k, v in dotenv_values(env_file).items()})
    outputs = [output for step in steps for output in step(site)]
    return [(output.path, write_if_changed(site.path(output.path), output.text, output.mode))
            for output in outputs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.bootstrap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the site's folder: docker-compose.yml, .env (default: here)")
    parser.add_argument("--env-file", type=Path, help="default: ROOT/.env")
    args = parser.parse_args(argv)
    try:
        results = bootstrap(args.root, args.env_file)
    except Refused as exc:
        print(f"bootstrap: {exc}", file=sys.stderr)
        return 2
    for path, written in results:
        print(f"{'wrote' if written else 'unchanged'} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
