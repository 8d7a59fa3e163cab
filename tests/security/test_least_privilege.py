"""Each login may do its own work and nothing more, tried as an attacker who
took over one service would try it, against the real servers:

- broker (the shipped configuration, over TLS): the gateway, which parses
  untrusted device input, cannot publish an ACL or a command, nor administer
  the broker; no service login writes another's topics or reads what it does
  not need; a device cannot write as another device or under another site.
  Refusals are read from the MQTT 5 PUBACK/SUBACK reason codes (Mosquitto
  drops a refused QoS 0 publish silently) and from what an observer receives;
- InfluxDB (1.x with auth on, users made by deploy/influx_init.py): Grafana's
  user cannot DROP or write, the gateway's cannot read, the api's cannot
  write, the alerts' can write only their own database (their alert states),
  never write, delete or drop in the site's; a widened grant or an old
  password does not survive the next start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from api.services.mqtt import MqttPublisher, PublishError
from broker.accounts import CONTROL_TOPIC
from deploy import influx_init
from devservers import InfluxDB, SiteMosquitto
from protocol import wire
from tests.broker.probe import Probe
from tests.conftest import DEVICE_PASSWORD, OBSERVER, SITE_BROKER_SITE
from timeseries import InfluxClient, InfluxError, InfluxRejected, InfluxSettings

SITE = SITE_BROKER_SITE
ACL = wire.topic(SITE, "node1", "acl")
CMD = wire.topic(SITE, "node1", "cmd")
TELEMETRY = wire.topic(SITE, "node1", "telemetry")
GATEWAY_STATUS = wire.gateway_status_topic("mf-gateway")


def _connected(broker: SiteMosquitto, login: str) -> Probe:
    probe = Probe(broker.tls_login(login))
    assert probe.connect().value == 0, login
    return probe


def test_the_gateway_cannot_send_a_node_an_acl_or_a_command(
    site_mosquitto: SiteMosquitto, observer: Probe
) -> None:
    acl = b'{"ver": 999, "allow": ["0123456789abcdef"]}'  # the broker reads no payload
    with _connected(site_mosquitto, "gateway") as gateway:
        assert not gateway.publish(ACL, acl, retain=True)
        assert not gateway.publish(CMD, b'{"op": "reboot"}')
        # Nor give itself the api's role through the plugin.
        grant = b'{"commands": [{"command": "addClientRole", "username": "gateway", ' \
                b'"rolename": "api"}]}'
        assert not gateway.publish(CONTROL_TOPIC, grant)
        assert not gateway.subscribe(CONTROL_TOPIC + "/#")
        # Nor end the api's read of the retained ACLs early (its marker).
        assert not gateway.publish(wire.API_PREFIX + "/marker/api-read-x", b"end")
        # What it may do, it can: read node topics, write dead letters.
        assert gateway.subscribe(wire.PREFIX + "/#")
        assert gateway.publish(wire.deadletter_topic(TELEMETRY), b"dead")
    assert observer.received() == [(wire.deadletter_topic(TELEMETRY), b"dead")]
    with _connected(site_mosquitto, "gateway") as again:  # it did not become the api
        assert not again.publish(ACL, acl)
    with Probe(site_mosquitto.tls_login(OBSERVER)) as late:  # nothing was retained
        assert late.connect().value == 0 and late.subscribe(ACL)
        assert late.received(timeout=1) == []


def test_the_api_reads_back_its_sites_retained_acls_over_tls(
    site_mosquitto: SiteMosquitto,
) -> None:
    """What the ACL sweep needs of the api's login: publish an ACL retained,
    read every retained ACL of its site back (ended by its marker under
    mf-api/); another site's are refused to it."""
    api = MqttPublisher(site_mosquitto.tls_login("api"), timeout_s=5)
    try:
        api.publish_retained(ACL, b"ours")
        assert api.retained(wire.topic_filter(SITE, "acl")) == {ACL: b"ours"}
        with pytest.raises(PublishError, match="refused"):
            api.retained(wire.topic_filter("other-site", "acl"))
    finally:
        api.close()


@pytest.mark.parametrize(("login", "refused_pub", "refused_sub"), [
    # The api: downlink and the plugin, never telemetry (forged readings) or alerts;
    # it reads back its own site's ACLs only (the sweep).
    ("api", [TELEMETRY, wire.topic("other-site", "node1", "acl"), "mf-alerts/x"],
     [TELEMETRY, "mf/#", "#", wire.topic_filter("other-site", "acl"),
      wire.topic_filter(SITE, "status")]),
    # The alerts: their own prefix only, and the gateways' statuses read-only.
    ("alerts", [TELEMETRY, ACL, CMD, CONTROL_TOPIC, GATEWAY_STATUS],
     ["mf/#", "#", "$SYS/#", "mf-gateway/#", GATEWAY_STATUS]),
    # The health check: reads $SYS, writes nothing.
    ("health", [TELEMETRY, ACL, "$SYS/broker/uptime", "mf-alerts/x"],
     ["mf/#", "#", CONTROL_TOPIC + "/#"]),
    # The alerts' reader (a phone's app, Home Assistant): reads alerts, writes nothing
    # (a forged alert on the coordinator's phone).
    ("alerts-reader", [TELEMETRY, ACL, CMD, "mf-alerts/x", CONTROL_TOPIC],
     ["mf/#", "#", "$SYS/#", CONTROL_TOPIC + "/#"]),
])
def test_no_service_login_reaches_beyond_its_topics(
    site_mosquitto: SiteMosquitto, observer: Probe, login: str, refused_pub: list[str],
    refused_sub: list[str],
) -> None:
    with _connected(site_mosquitto, login) as probe:
        for topic in refused_pub:
            assert not probe.publish(topic, login.encode()), (login, topic)
        for topic in refused_sub:
            assert not probe.subscribe(topic), (login, topic)
    assert observer.received(timeout=1) == []


def test_the_alerts_read_the_gateways_statuses_and_only_the_gateway_writes_them(
    site_mosquitto: SiteMosquitto, observer: Probe
) -> None:
    """What the full-spool alert needs (alerts/gateways.py), and no more: a
    device, the api or the alerts cannot forge a gateway's status."""
    status = b'{"state": "spool_full"}'
    with _connected(site_mosquitto, "alerts") as alerts:
        assert alerts.subscribe(wire.gateway_status_topic("+"))
        for login in ("api", "alerts"):
            with _connected(site_mosquitto, login) as forger:
                assert not forger.publish(GATEWAY_STATUS, status, retain=True), login
        device = site_mosquitto.tls_login("node1").model_copy(
            update={"mqtt_password": SecretStr(DEVICE_PASSWORD)})
        with Probe(device, "node1") as node:
            assert node.connect().value == 0
            assert not node.publish(GATEWAY_STATUS, status, retain=True)
        assert alerts.received(timeout=1) == []
        with _connected(site_mosquitto, "gateway") as gateway:
            assert gateway.publish(GATEWAY_STATUS, status, retain=True)
        assert alerts.received() == [(GATEWAY_STATUS, status)]
    assert observer.received() == [(GATEWAY_STATUS, status)]


def test_a_device_writes_only_as_itself_under_its_own_site(
    site_mosquitto: SiteMosquitto, observer: Probe
) -> None:
    device = site_mosquitto.tls_login("node1").model_copy(
        update={"mqtt_password": SecretStr(DEVICE_PASSWORD)})
    with Probe(device, "node1") as node:
        assert node.connect().value == 0
        for topic in (wire.topic(SITE, "node2", "telemetry"),  # another device
                      wire.topic("other-site", "node1", "telemetry"),  # another site, own id
                      ACL, CMD, wire.deadletter_topic(TELEMETRY), "mf-alerts/x"):
            assert not node.publish(topic, b"forged"), topic
        assert not node.subscribe(wire.topic(SITE, "node2", "acl"))
        assert node.publish(TELEMETRY, b"mine")
    assert observer.received() == [(TELEMETRY, b"mine")]


# --- InfluxDB ----------------------------------------------------------------------

PASSWORDS = {user: f"{user}-influx-secret" for user in influx_init.GRANTS}


def _as(server: InfluxDB, user: str, password: str | None = None,
        database: str = "") -> InfluxClient:
    return InfluxClient(InfluxSettings(
        influx_url=server.url, influx_database=database or server.database, influx_username=user,
        influx_password=SecretStr(password or PASSWORDS[user])), 10)


@pytest.fixture
def users(tmp_path: Path) -> Iterator[InfluxDB]:
    """InfluxDB as influxdb-init leaves it (from the image's state: the site's
    database alone), with a day of telemetry and an alert state."""
    server = InfluxDB(tmp_path / "influxdb", alerts_db=False)
    server.start()
    env = {"INFLUX_URL": server.url, "INFLUXDB_DB": server.database,
           "INFLUXDB_ADMIN_USER": server.user, "INFLUXDB_ADMIN_PASSWORD": server.password,
           **{influx_init.password_variable(user): pw for user, pw in PASSWORDS.items()}}
    assert influx_init.main(env) == 0
    server.write([f"telemetry,site=ws1,device=node1 wh={n}i {1764000000000 + n}"
                  for n in range(10)])
    with server.client(10, server.alerts_database) as alerts_db:
        alerts_db.write(b"alert,site=ws1,kind=heating open=1i 1764000000000")
    yield server
    server.close()


def _refused(call: object) -> str:
    assert callable(call)
    try:
        call()
    except InfluxError as exc:
        return str(exc)
    raise AssertionError("InfluxDB did it")


SITE_DB_ATTACKS = ('DROP MEASUREMENT "telemetry"', 'DELETE FROM "telemetry"',
                   'DROP SERIES FROM "telemetry"', 'DROP DATABASE "workshop"',
                   "CREATE USER intruder WITH PASSWORD 'x' WITH ALL PRIVILEGES",
                   "GRANT ALL ON workshop TO alerts")


def test_grafanas_user_reads_and_cannot_drop_or_write(users: InfluxDB) -> None:
    readable = {users.database: 'SELECT count("wh") FROM "telemetry"',
                users.alerts_database: 'SELECT count("open") FROM "alert"'}
    for database, count in readable.items():
        with _as(users, "grafana", database=database) as grafana:
            assert grafana.query(count)[0].values[0][1] in (10, 1)
            for statement in (*SITE_DB_ATTACKS, 'DROP MEASUREMENT "alert"',
                              f'DROP DATABASE "{database}"', "GRANT ALL ON workshop TO grafana"):
                assert "not authorized" in _refused(
                    lambda s=statement, g=grafana: g.execute(s)), (database, statement)
            assert "403" in _refused(lambda g=grafana: g.write(b"telemetry,device=x wh=1i"))
    assert users.count("telemetry", "wh") == 10  # nothing dropped
    assert users.count("alert", "open", database=users.alerts_database) == 1


def test_the_gateway_writes_and_cannot_read(users: InfluxDB) -> None:
    with _as(users, "gateway") as gateway:
        gateway.write(b"telemetry,site=ws1,device=node2 wh=5i 1764000100000")
        assert "not authorized" in _refused(
            lambda: gateway.query('SELECT * FROM "telemetry"'))
        assert "not authorized" in _refused(lambda: gateway.execute('DROP DATABASE "workshop"'))
    with _as(users, "gateway", database=users.alerts_database) as gateway:
        assert "403" in _refused(lambda: gateway.write(b"alert,kind=forged open=1i"))
    assert users.count("telemetry", "wh") == 11


def test_the_api_reads_and_cannot_write(users: InfluxDB) -> None:
    with _as(users, "api") as api:
        assert api.query('SELECT count("wh") FROM "telemetry"')[0].values[0][1] == 10
        assert "403" in _refused(lambda: api.write(b"telemetry,device=x wh=1i"))


def test_the_alerts_read_the_sites_data_and_write_only_their_own_database(
    users: InfluxDB,
) -> None:
    """Taken over, the alerts' login can neither forge readings in the site's
    database nor delete or drop any of it."""
    with _as(users, "alerts") as alerts:
        assert alerts.query('SELECT count("wh") FROM "telemetry"')[0].values[0][1] == 10
        assert "403" in _refused(lambda: alerts.write(b"telemetry,site=ws1,device=node1 wh=9i"))
        assert "403" in _refused(lambda: alerts.write(b"alert,site=ws1,kind=heating open=1i"))
        for statement in SITE_DB_ATTACKS:
            assert "not authorized" in _refused(
                lambda s=statement: alerts.execute(s)), statement
    with _as(users, "alerts", database=users.alerts_database) as own:
        own.write(b"alert,site=ws1,kind=heating open=0i 1764000200000")
        assert own.query('SELECT count("open") FROM "alert"')[0].values[0][1] == 2
        assert "not authorized" in _refused(
            lambda: own.execute(f'DROP DATABASE "{users.alerts_database}"'))
    assert users.count("telemetry", "wh") == 10
    assert [row["name"] for s in users.query("SHOW MEASUREMENTS") for row in s.rows] == [
        "telemetry"]
    assert users.count("alert", "open", database=users.alerts_database) == 2


def test_the_next_start_takes_back_a_widened_grant_and_an_old_password(users: InfluxDB) -> None:
    users.execute("GRANT ALL ON workshop TO grafana")
    users.execute("GRANT ALL ON workshop TO alerts")  # what the alerts held before their own db
    users.execute("CREATE DATABASE other")
    users.execute("GRANT READ ON other TO gateway")
    users.execute("GRANT ALL PRIVILEGES TO api")  # made admin by hand
    rotated = {**PASSWORDS, "grafana": "rotated-secret"}
    with InfluxClient(users.settings, 30) as admin:
        done = influx_init.apply(admin, users.database, rotated, users.user)
        _, grants = influx_init.users_and_grants(admin)
        admins = {row["user"]: row["admin"] for s in admin.query("SHOW USERS") for row in s.rows}
    databases = {influx_init.SITE: "workshop", influx_init.ALERTS: "workshop_alerts"}
    assert done == [f"{user}: {privilege} on {databases[which]}"
                    for user, wanted in influx_init.GRANTS.items()
                    for which, privilege in wanted.items()]
    assert grants["grafana"] == {"workshop": "READ", "workshop_alerts": "READ"}
    assert grants["gateway"] == {"workshop": "WRITE"}
    assert grants["api"] == {"workshop": "READ"}
    assert grants["alerts"] == {"workshop": "READ", "workshop_alerts": "ALL PRIVILEGES"}
    assert admins["api"] is False
    assert "401" in _refused(lambda: _as(users, "grafana").query("SHOW MEASUREMENTS"))
    with _as(users, "grafana", "rotated-secret") as grafana:
        assert "403" in _refused(lambda: grafana.write(b"telemetry,device=x wh=1i"))
    with _as(users, "alerts") as alerts:
        assert "403" in _refused(lambda: alerts.write(b"telemetry,device=x wh=1i"))


def test_influx_init_refuses_missing_passwords_by_name(influxdb: InfluxDB) -> None:
    env = {"INFLUX_URL": influxdb.url, "INFLUXDB_DB": influxdb.database,
           "INFLUXDB_ADMIN_USER": influxdb.user, "INFLUXDB_ADMIN_PASSWORD": influxdb.password,
           "GATEWAY_INFLUX_PASSWORD": "x"}
    assert influx_init.main(env) == 2
    with InfluxClient(influxdb.settings, 10) as admin:
        with pytest.raises(influx_init.InitError, match="API_INFLUX_PASSWORD"):
            influx_init.apply(admin, influxdb.database, {"gateway": "x"}, influxdb.user)
        assert {row["user"] for s in admin.query("SHOW USERS") for row in s.rows} == {
            influxdb.user}


def test_settings_reject_what_they_should(users: InfluxDB) -> None:
    """Unknown users get 401 (not a silent empty answer)."""
    with pytest.raises(InfluxError, match="401"):
        _as(users, "nobody", "x").query("SHOW DATABASES")
    with pytest.raises(InfluxRejected):
        _as(users, "api").query("SELEC nonsense")

