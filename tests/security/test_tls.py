"""Attacks on the transport, against a real Mosquitto running the shipped
configuration (TLS on its 8883 listener with a certificate of the site CA,
plain MQTT on loopback only), each of which must fail:

- plain MQTT on the TLS port gets no session, and what it publishes goes
  nowhere;
- a broker with a certificate from another CA (an impostor on the LAN, or a
  man in the middle) is refused by the services' client and by a node before
  either sends its password; so is the site CA's certificate for another name;
- and the way that must work does: a simulated node running the firmware
  connects with TLS pinned to the site CA and its telemetry reaches InfluxDB
  through the gateway, itself connected with TLS."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from pydantic import SecretStr

from broker import MqttSettings, configure, node_tls
from devservers import InfluxDB, SiteMosquitto, site_accounts
from devservers.gateway import GatewayProcess
from devservers.mosquitto import SHIPPED_CONF
from firmware.net import mqtt_codec as codec
from protocol import wire
from simulator.fleet import Fleet
from simulator.scenario import Scenario
from simulator.vloop import VirtualTimeLoop
from tests.broker.probe import Probe
from tests.conftest import (
    DEVICE_PASSWORD,
    SERVICE_PASSWORDS,
    SITE_BROKER_SITE,
)
from tests.simulator.harness import run, until

SITE = SITE_BROKER_SITE


@pytest.fixture
def impostor(tmp_path: Path) -> Iterator[SiteMosquitto]:
    """A broker that knows every login (it would accept them) but holds a
    certificate from a CA of its own, as anyone on the LAN can make."""
    accounts = site_accounts(SITE, SERVICE_PASSWORDS, {"node1": DEVICE_PASSWORD})
    broker = SiteMosquitto(tmp_path / "impostor", {**SERVICE_PASSWORDS, "node1": DEVICE_PASSWORD},
                           accounts)
    broker.start()
    yield broker
    broker.close()


def test_the_shipped_broker_speaks_plain_mqtt_only_on_loopback() -> None:
    """Every listener of the shipped configuration that has no certificate is
    bound to 127.0.0.1 (inside the broker's container), and the one for the
    network requires TLS 1.2 at least."""
    blocks = re.split(r"^(?=listener\s)", SHIPPED_CONF.read_text(), flags=re.M)[1:]
    listeners = {block.split()[1]: block for block in blocks}
    assert set(listeners) == {"1883", "8883"}
    assert listeners["1883"].split()[2] == "127.0.0.1"
    assert "certfile" not in listeners["1883"]
    options = dict(line.split(None, 1) for line in listeners["8883"].splitlines()
                   if line.strip() and not line.startswith("#"))
    assert options["listener"].strip() == "8883"  # all interfaces
    assert {"certfile", "keyfile"} <= set(options)
    assert options["tls_version"].strip() == "tlsv1.2"


def test_plain_mqtt_on_the_tls_port_gets_no_session(
    site_mosquitto: SiteMosquitto, observer: Probe
) -> None:
    topic = wire.topic(SITE, "node1", "telemetry")
    packets = (codec.connect("node1", "node1", DEVICE_PASSWORD)
               + codec.publish(topic, b"plaintext", qos=0))
    with socket.create_connection((site_mosquitto.host, site_mosquitto.tls_port), 5) as sock:
        sock.sendall(packets)
        answer = _until_closed(sock)
    # No CONNACK (0x20): at most a TLS alert record (0x15), then the broker hangs up.
    assert answer[:1] in (b"", b"\x15"), answer[:16]
    # The same bytes on the loopback listener are a session: the test can fail.
    with socket.create_connection((site_mosquitto.host, site_mosquitto.port), 5) as sock:
        sock.sendall(codec.connect("node1", "node1", DEVICE_PASSWORD))
        assert sock.recv(4)[:1] == b"\x20"
    assert observer.received(timeout=1) == []


def _until_closed(sock: socket.socket, limit_s: float = 10) -> bytes:
    data = b""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return data
        except TimeoutError:
            continue
        if not chunk:
            return data
        data += chunk
    raise AssertionError("the broker kept the plaintext connection open")


def test_a_service_refuses_a_broker_certified_by_another_ca(
    site_mosquitto: SiteMosquitto, impostor: SiteMosquitto
) -> None:
    """Refused in the handshake, which paho completes before it writes the
    CONNECT: the password never leaves the client."""
    site_ca = site_mosquitto.ca_file
    genuine = impostor.tls_login("gateway", ca_file=site_ca)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        Probe(genuine).connect()
    # Trusting the impostor's own CA, the same login works there: what failed
    # was the certificate, nothing else.
    with Probe(impostor.tls_login("gateway")) as fooled:
        assert fooled.connect().value == 0
    # The site CA's certificate for the broker, checked for another name.
    elsewhere = site_mosquitto.tls_login("gateway").model_copy(
        update={"mqtt_tls_server_name": "broker.elsewhere.example"})
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        Probe(elsewhere).connect()
    named = site_mosquitto.tls_login("gateway").model_copy(
        update={"mqtt_tls_server_name": "localhost"})
    with Probe(named) as probe:
        assert probe.connect().value == 0


def test_a_missing_ca_file_is_named(site_mosquitto: SiteMosquitto, tmp_path: Path) -> None:
    settings = site_mosquitto.tls_login("gateway", ca_file=tmp_path / "nowhere.crt")
    with pytest.raises(ValueError, match=r"mqtt_tls_ca_file .*nowhere\.crt"):
        Probe(settings)


def _scenario(broker: SiteMosquitto, ca_pem: str, **mqtt: Any) -> Scenario:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
    return Scenario({
        "site": SITE, "start": start, "base_load_w": 300,
        "badge_key": "00112233445566778899aabbccddeeff",
        "mqtt": {"host": broker.host, "port": broker.tls_port, "password": DEVICE_PASSWORD,
                 "tls": True, "ca": ca_pem, **mqtt},
        "members": {"alice": "04:a1:b2:c3"},
        "nodes": [{"device": "node1", "role": "heating",
                   "config": {"sample_ms": 10000, "temp_every_s": 60, "telemetry_s": 60}}],
    })


def test_a_node_refuses_a_broker_certified_by_another_ca(
    tmp_path: Path, site_mosquitto: SiteMosquitto, impostor: SiteMosquitto
) -> None:
    assert site_mosquitto.ca is not None
    fleet = Fleet(_scenario(impostor, site_mosquitto.ca.cert_pem), tmp_path / "flash")
    loop = VirtualTimeLoop(speed=50)

    async def play() -> tuple[int, str]:
        fleet.start()
        sim = fleet.node("node1")
        await until(lambda: sim.node is not None and sim.node.mqtt.last_error != "", 120,
                    "a failed connection")
        await asyncio.sleep(60)  # more attempts, with back-off
        assert sim.node is not None
        outcome = sim.node.mqtt.sessions, sim.node.mqtt.last_error
        await fleet.shutdown()
        return outcome

    sessions, error = run(loop, play())
    loop.close()
    assert sessions == 0
    assert "CERTIFICATE_VERIFY_FAILED" in error, error


def test_a_node_over_tls_works_end_to_end(
    tmp_path: Path, site_mosquitto: SiteMosquitto, influxdb: InfluxDB,
    request: pytest.FixtureRequest,
) -> None:
    """The node connects with TLS pinned to the site CA and every telemetry
    message it sent is in InfluxDB, written by the gateway that reads the
    broker over TLS too."""
    gateway = GatewayProcess(tmp_path / "gateway", site_mosquitto, influxdb,
                             mqtt_password=SERVICE_PASSWORDS["gateway"],
                             mqtt_port=site_mosquitto.tls_port, mqtt_tls=True,
                             mqtt_tls_ca_file=str(site_mosquitto.ca_file))
    request.addfinalizer(gateway.close)
    gateway.start()
    assert site_mosquitto.ca is not None
    fleet = Fleet(_scenario(site_mosquitto, site_mosquitto.ca.cert_pem), tmp_path / "flash")
    loop = VirtualTimeLoop(speed=100)

    async def play() -> dict[str, Any]:
        fleet.start()
        sim = fleet.node("node1")
        await until(lambda: sim.node is not None and sim.node.mqtt.connected, 120, "a session")
        await asyncio.sleep(600)  # ten telemetry periods
        node = sim.node
        assert node is not None and sim.board is not None
        await until(lambda: node.outbox.pending() == 0, 120, "the outbox drained")
        ciphers = [writer.get_extra_info("cipher") for writer, _ in sim.board.link.connections]
        outcome = {"telemetry": node.queued["telemetry"], "ciphers": ciphers,
                   "sessions": node.mqtt.sessions}
        await fleet.shutdown()
        return outcome

    result = run(loop, play())
    loop.close()
    assert result["sessions"] >= 1 and result["ciphers"] and all(result["ciphers"])
    assert result["telemetry"] >= 9
    deadline = time.monotonic() + 30
    while influxdb.count("telemetry", "seq", "device = 'node1'") < result["telemetry"]:
        assert time.monotonic() < deadline, "the telemetry did not reach InfluxDB"
        time.sleep(0.2)
    assert influxdb.count("telemetry", "seq", "device = 'node1'") == result["telemetry"]


def test_settings_without_tls_stay_plain(site_mosquitto: SiteMosquitto) -> None:
    """TLS is off unless asked for: the loopback listener still serves local tools."""
    plain = MqttSettings(mqtt_host=site_mosquitto.host, mqtt_port=site_mosquitto.port,
                         mqtt_username="health", mqtt_password=site_mosquitto.login(
                             "health").mqtt_password)
    with Probe(plain) as probe:
        assert probe.connect().value == 0


def test_the_gateway_keeps_every_message_of_a_burst_over_tls(
    tmp_path: Path, site_mosquitto: SiteMosquitto, influxdb: InfluxDB,
    request: pytest.FixtureRequest,
) -> None:
    """The gateway's buffered reads (many packets per TLS record, records
    split across reads) lose and repeat nothing: 3,000 QoS 1 messages from
    one device, each in InfluxDB once."""
    gateway = GatewayProcess(tmp_path / "gateway", site_mosquitto, influxdb,
                             mqtt_password=SERVICE_PASSWORDS["gateway"],
                             mqtt_port=site_mosquitto.tls_port, mqtt_tls=True,
                             mqtt_tls_ca_file=str(site_mosquitto.ca_file),
                             batch_interval_s=0.05)
    request.addfinalizer(gateway.close)
    gateway.start()
    device = site_mosquitto.tls_login("node1").model_copy(
        update={"mqtt_password": SecretStr(DEVICE_PASSWORD)})
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="node1")
    configure(client, device)
    client.max_inflight_messages_set(200)
    client.connect(device.mqtt_host, device.mqtt_port)
    client.loop_start()
    topic = wire.topic(SITE, "node1", "telemetry")
    t0 = int(time.time() * 1000) - 3_600_000
    sent = [client.publish(topic, wire.encode("telemetry", wire.telemetry(
        seq, t0 + seq, {"wh": seq}, {"t_flow": 60.0})), qos=1) for seq in range(3000)]
    for info in sent:
        info.wait_for_publish(30)
        assert info.is_published()
    client.disconnect()
    client.loop_stop()
    deadline = time.monotonic() + 60
    while influxdb.count("telemetry", "seq", "device = 'node1'") < 3000:
        assert time.monotonic() < deadline, influxdb.count("telemetry", "seq")
        time.sleep(0.2)
    assert influxdb.count("telemetry", "seq", "device = 'node1'") == 3000
    assert gateway.metric("gateway_received_total") == 3000


def test_a_node_config_gets_the_ca_the_service_trusts(
    site_mosquitto: SiteMosquitto, tmp_path: Path
) -> None:
    """node_tls: what the api puts into a generated node config; the firmware's
    own validation accepts it, and the node it configures connects (above)."""
    from firmware import config as firmware_config

    settings = site_mosquitto.tls_login("api")
    fields = node_tls(settings)
    assert fields == {"tls": True, "ca": site_mosquitto.ca_file.read_text()}
    node = {"site": SITE, "device": "node1", "role": "heating", "sensors": {},
            "downlink_key": bytes(range(32)).hex(),
            "mqtt": {"host": "192.168.1.10", "port": 8883, **fields}}
    assert firmware_config.validate(firmware_config.merged(node)) == []
    assert node_tls(site_mosquitto.login("api")) == {}  # a service without TLS
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82")
    for ca_file, words in (("", "mqtt_tls_ca_file is empty"), (str(not_pem), "not a PEM"),
                           (str(tmp_path / "none.crt"), "none.crt")):
        with pytest.raises(ValueError, match=words):
            node_tls(settings.model_copy(update={"mqtt_tls_ca_file": ca_file}))
