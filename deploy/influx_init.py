"""`python -m deploy.influx_init`: what the influxdb-init service runs once
InfluxDB answers and before the services start. Each service gets its own
InfluxDB user with only what it needs; run again (every `docker compose
up`), it sets each password from `.env` again and takes back any grant that
is not in the table, so a rotated password or a widened grant does not last.

InfluxDB 1.x grants READ, WRITE or ALL per database, never per measurement,
and WRITE on a database also allows DELETE, DROP SERIES and DROP MEASUREMENT
in it (DROP DATABASE, users and retention policies need the admin). What is
enforced is therefore per database (docs/security.md, least privilege): the
alerts' points have a database of their own, so that only the gateway can
write, delete or drop in the site's.

Environment: INFLUX_URL, INFLUXDB_DB, INFLUXDB_ADMIN_USER,
INFLUXDB_ADMIN_PASSWORD, each user's password in <SERVICE>_INFLUX_PASSWORD
(GATEWAY_, API_, ALERTS_, GRAFANA_), as docker-compose.yml passes them from
`.env`, and INFLUXDB_ALERTS_DB (default `<INFLUXDB_DB>_alerts`)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping

from pydantic import SecretStr

from timeseries import (
    InfluxClient,
    InfluxError,
    InfluxSettings,
    alerts_database,
    quote_ident,
    quote_string,
)

READ, WRITE, ALL = "READ", "WRITE", "ALL"
# The two databases, by what they hold: the site's data (INFLUXDB_DB) and the
# alerts' own points, their alert states (INFLUXDB_ALERTS_DB).
SITE, ALERTS = "site", "alerts"
# user -> {database: privilege}. The alerts write only into their own database.
GRANTS = {
    "gateway": {SITE: WRITE},
    "api": {SITE: READ},
    "alerts": {SITE: READ, ALERTS: ALL},
    "grafana": {SITE: READ, ALERTS: READ},
}
# How InfluxDB's SHOW GRANTS names them.
_SHOWN = {READ: READ, WRITE: WRITE, ALL: "ALL PRIVILEGES"}


class InitError(Exception):
    pass


def password_variable(user: str) -> str:
    return f"{user.upper()}_INFLUX_PASSWORD"


def users_and_grants(client: InfluxClient) -> tuple[dict[str, bool], dict[str, dict[str, str]]]:
    """{user: admin?} and {user: {database: privilege}} as InfluxDB holds them."""
    users = {str(row["user"]): bool(row["admin"])
             for series in client.query("SHOW USERS") for row in series.rows}
    grants = {}
    for user in users:
        grants[user] = {str(row["database"]): str(row["privilege"])
                        for series in client.query(f"SHOW GRANTS FOR {quote_ident(user)}")
                        for row in series.rows if row["privilege"] != "NO PRIVILEGES"}
    return users, grants


def apply(client: InfluxClient, database: str, passwords: Mapping[str, str],
          admin: str, alerts_db: str = "") -> list[str]:
    """Make InfluxDB hold exactly GRANTS (with `passwords`) on `database` and
    `alerts_db` (default: alerts_database(database)); what was done, per grant."""
    missing = [password_variable(user) for user in GRANTS if not passwords.get(user)]
    if missing:
        raise InitError(f"not set: {', '.join(missing)}")
    if admin in GRANTS:
        raise InitError(f"INFLUXDB_ADMIN_USER may not be a service's user ({admin})")
    names = {SITE: database, ALERTS: alerts_db or alerts_database(database)}
    if names[SITE] == names[ALERTS]:
        raise InitError(f"INFLUXDB_ALERTS_DB may not be the site's database ({database})")
    for name in names.values():
        client.execute(f"CREATE DATABASE {quote_ident(name)}")
    users, grants = users_and_grants(client)
    done = []
    for user, wanted in GRANTS.items():
        on = {names[which]: privilege for which, privilege in wanted.items()}
        name, password = quote_ident(user), quote_string(passwords[user])
        if user in users:
            client.execute(f"SET PASSWORD FOR {name} = {password}")
        else:
            client.execute(f"CREATE USER {name} WITH PASSWORD {password}")
        if users.get(user):
            client.execute(f"REVOKE ALL PRIVILEGES FROM {name}")  # no admin
        for other, held in grants.get(user, {}).items():
            if other not in on or held != _SHOWN[on[other]]:
                client.execute(f"REVOKE ALL ON {quote_ident(other)} FROM {name}")
        for target, privilege in on.items():
            client.execute(f"GRANT {privilege} ON {quote_ident(target)} TO {name}")
            done.append(f"{user}: {privilege} on {target}")
    return done


def main(env: Mapping[str, str] | None = None, wait_s: float = 60) -> int:
    env = os.environ if env is None else env
    try:
        settings = InfluxSettings(
            influx_url=env["INFLUX_URL"], influx_database=env["INFLUXDB_DB"],
            influx_username=env["INFLUXDB_ADMIN_USER"],
            influx_password=SecretStr(env["INFLUXDB_ADMIN_PASSWORD"]))
    except KeyError as exc:
        print(f"influx_init: {exc.args[0]} is not set", file=sys.stderr)
        return 2
    passwords = {user: env.get(password_variable(user), "") for user in GRANTS}
    deadline = time.monotonic() + wait_s
    with InfluxClient(settings, 30) as client:
        while True:
            try:
                done = apply(client, settings.influx_database, passwords,
                             settings.influx_username, env.get("INFLUXDB_ALERTS_DB", ""))
                break
            except InitError as exc:
                print(f"influx_init: {exc}", file=sys.stderr)
                return 2
            except InfluxError as exc:  # not up yet, or the admin refused
                if time.monotonic() > deadline:
                    print(f"influx_init: {exc}", file=sys.stderr)
                    return 1
                time.sleep(1)
    for line in done:
        print(f"influx_init: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
