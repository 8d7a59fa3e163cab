"""Several devices -> broker -> gateway -> InfluxDB: tags, fields and times."""

from __future__ import annotations

from pathlib import Path

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until
from tests.gateway.streams import telemetry_stream

T0 = 1764000000000


def test_telemetry_events_and_status_land_with_their_tags_fields_and_times(
    mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    messages = []
    for d in range(1, 4):
        device = f"node{d}"
        topic = wire.topic("lab", device, "telemetry")
        for seq in range(5):
            msg = wire.telemetry(seq, T0 + 1000 * seq + d, {"wh": 100 * d + seq, "on_s": seq},
                                 {"w": 12.5 * d, "a": 0.25})
            messages.append((topic, wire.encode("telemetry", msg)))
    messages.append((wire.topic("lab", "node1", "event"), wire.encode("event", wire.event(
        9, T0 + 50, "badge", {"ok": True, "badge": "0123456789abcdef"}))))
    messages.append((wire.topic("lab", "node2", "status"), wire.encode(
        "status", wire.status_online(T0 + 60, "machine", "1.2.3", 42, 90000))))
    assert publish_all(mosquitto, messages) == 17

    wait_until(lambda: influxdb.count("telemetry", "seq") == 15, 20, "15 telemetry points")
    wait_until(lambda: influxdb.count("event", "seq") == 1, 10, "the badge event")
    wait_until(lambda: influxdb.count("status", "online") == 1, 10, "the status point")

    series = influxdb.query(
        "SELECT wh, on_s, w, a, seq, tq FROM telemetry WHERE device = 'node2' GROUP BY site"
    )
    assert series[0].tags == {"site": "lab"}
    rows = series[0].values
    assert isinstance(rows, list)
    assert [r[0] for r in rows] == [f"2025-11-24T16:00:0{s}.002Z" for s in range(5)]
    assert [r[1:] for r in rows] == [[200 + s, s, 25.0, 0.25, s, 1] for s in range(5)]
    event = influxdb.query("SELECT badge, ok, seq FROM event GROUP BY kind, device")
    assert event[0].tags == {"kind": "badge", "device": "node1"}
    assert event[0].values == [["2025-11-24T16:00:00.05Z", "0123456789abcdef", True, 9]]
    status = influxdb.query("SELECT online, state, fw, role, up, heap FROM status")
    assert status[0].values == [
        ["2025-11-24T16:00:00.06Z", 1, "online", "1.2.3", "machine", 42, 90000]
    ]
    assert gateway.metric("gateway_received_total") == 17
    assert gateway.metric("gateway_written_points_total") == 17


def test_mqtt_3_1_1_session_also_keeps_what_arrives_while_the_gateway_is_away(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gw = GatewayProcess(tmp_path / "gw311", mosquitto, influxdb, mqtt_username=GATEWAY_USER,
                        mqtt_password=GATEWAY_PASSWORD, mqtt_protocol=4, batch_interval_s=0.05)
    gw.start()
    try:
        publish_all(mosquitto, telemetry_stream(300))
        gw.kill()
        publish_all(mosquitto, telemetry_stream(300, first=300))
        gw.start()
        wait_until(lambda: influxdb.count("telemetry", "seq") >= 600, 30, "600 points")
        assert influxdb.count("telemetry", "seq") == 600
    finally:
        gw.close()


def test_unstamped_replay_keeps_every_point_in_one_millisecond(
    mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    """A node back from a power cut without NTP replays its outbox with tq 0:
    the gateway's receive time stands in, and many messages arrive within one
    millisecond. InfluxDB keeps one point per series and time, so the
    gateway must not give two of them the same time."""
    n = 400
    messages = []
    for device in ("node1", "node2"):
        topic = wire.topic("lab", device, "telemetry")
        for seq in range(n):
            msg = wire.telemetry(seq, 5000 + seq, {"wh": seq}, {"w": 1.0}, tq=0)
            messages.append((topic, wire.encode("telemetry", msg)))
        event = wire.event(n, 5000 + n, "boot", {}, tq=0)
        messages.append((wire.topic("lab", device, "event"), wire.encode("event", event)))
        # Sent again (its PUBACK lost, or the node restarted before it): the
        # same point, not a second one.
        messages.append((wire.topic("lab", device, "event"), wire.encode("event", event)))
    assert publish_all(mosquitto, messages) == len(messages)
    wait_until(lambda: gateway.metric("gateway_received_total") == len(messages), 30,
               "every message at the gateway")
    wait_until(lambda: influxdb.count("telemetry", "seq") == 2 * n, 20,
               f"{2 * n} telemetry points")
    assert influxdb.count("event", "seq") == 2
    rows = influxdb.query("SELECT seq, tq FROM telemetry WHERE device = 'node1'")[0].values
    assert isinstance(rows, list)
    # In arrival order, and stamped by the gateway (tq stays 0 for the reader).
    assert [r[1] for r in rows] == list(range(n)) and {r[2] for r in rows} == {0}
