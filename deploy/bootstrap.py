"""`python -m deploy.bootstrap`: turn the site's `.env` into every file the
services need before `docker compose up -d`.

A small pipeline: each step reads the site (its `.env` and what earlier runs
generated) and returns the files it wants; nothing is written unless every
step agreed, and a file whose content would not change is left alone, so a
second run changes nothing unless `.env` changed. Everything goes under
deploy/generated/ (not in git: it is made from the secrets).

Steps today: refuse missing or placeholder secrets; the broker's service
logins (Mosquitto's dynamic-security file, which the mosquitto-init service
merges into the broker's own before each start). InfluxDB's admin and
database are created by the influxdb image at its first start, from the
same `.env` through docker-compose.yml."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from broker.accounts import (
    ALERTS,
    ALERTS_PREFIX,
    API,
    DISCOVERY_PREFIX,
    GATEWAY,
    HEALTH,
    service_accounts,
)
from deploy.files import write_if_changed

GENERATED = Path("deploy") / "generated"
BROKER_SEED = GENERATED / "mosquitto" / "dynamic-security.json"
# Which .env variable holds each broker login's password.
BROKER_PASSWORDS = {
    GATEWAY: "GATEWAY_MQTT_PASSWORD",
    API: "API_MQTT_PASSWORD",
    ALERTS: "ALERTS_MQTT_PASSWORD",
    HEALTH: "MOSQUITTO_HEALTH_PASSWORD",
}
# What .env must set: the secrets (docker-compose.yml passes them on) and the site.
REQUIRED = (
    *BROKER_PASSWORDS.values(),
    "INFLUXDB_ADMIN_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "API_SECRET_KEY",
    "API_BADGE_HASH_KEY",
    "API_SITE",
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


STEPS: tuple[Step, ...] = (check_secrets, broker_logins)


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
