"""Bytes to line protocol, step by step, and the lines read back from a real
InfluxDB exactly as the data contract says."""

from __future__ import annotations

from typing import Any

import pytest

from devservers import InfluxDB
from gateway.ingest import ingest, liveness_line
from gateway.settings import Settings
from protocol import wire
from timeseries import InfluxClient, Series

T0 = 1764000000000


def writer_for(influxdb: InfluxDB) -> InfluxClient:
    """The client as the gateway makes it, from its own settings."""
    return InfluxClient(Settings(
        influx_url=influxdb.url, influx_database=influxdb.database,
        influx_username=influxdb.user,
        influx_password=influxdb.password,  # type: ignore[arg-type]
    ))


def first_row(series: list[Series]) -> dict[str, Any]:
    return series[0].rows[0]


def test_telemetry_becomes_one_point_with_int_counters_and_float_readings() -> None:
    msg = wire.telemetry(5, T0, {"wh": 12, "on_s": 3}, {"w": 7, "a": 0.5})
    payload = wire.encode("telemetry", msg)
    result = ingest("mf/lab/node1/telemetry", payload, received_ms=1)
    assert (result.site, result.device, result.channel) == ("lab", "node1", "telemetry")
    assert result.lines == [
        f"telemetry,site=lab,device=node1 wh=12i,on_s=3i,w=7.0,a=0.5,seq=5i,tq=1i {T0}"
    ]


def test_untrusted_clock_and_last_will_take_the_receive_time() -> None:
    payload = wire.encode("telemetry", wire.telemetry(1, 5000, {"wh": 1}, {}, tq=0))
    assert ingest("mf/lab/node1/telemetry", payload, 1764000009999).lines[0].endswith(
        "tq=0i 1764000009999"
    )
    will = wire.encode("status", wire.status_offline())
    assert ingest("mf/lab/node1/status", will, 1764000001234).lines == [
        'status,site=lab,device=node1 online=0i,state="offline" 1764000001234'
    ]


def test_downlink_channels_are_ignored_not_rejected() -> None:
    result = ingest("mf/lab/node1/acl", b"not even json", 0)
    assert result.message is None and result.lines == []


def test_rejections_carry_the_wire_code() -> None:
    with pytest.raises(wire.ProtocolError) as err:
        ingest("mf/lab/node1/telemetry", b'{"v":1,"seq":1,"ts":5,"ct":{}}', 0)
    assert err.value.code == "ts_absurd"


def test_every_measurement_reads_back_as_the_data_contract_says(influxdb: InfluxDB) -> None:
    detail = 'sensor "zone1" \\ lost\nretrying, ünïcödé \ud800'
    messages = [
        ("mf/lab/node1/event", wire.event(3, T0, "session_end", {
            "sid": 9, "badge": "00ff00ff00ff00ff", "ct": {"wh": 40, "on_s": 60},
            "reason": "badge_out", "detail": detail})),
        ("mf/lab/node1/event", wire.event(4, T0 + 1, "badge", {"ok": False,
                                                               "badge": "00ff00ff00ff00ff"})),
        ("mf/lab/node2/status", dict(wire.status_online(T0, "meter", 'fw "2"', 5, 1000),
                                     outbox=3, dropped=0, reconnects=1, rssi=-70)),
    ]
    lines = []
    for topic, msg in messages:
        channel = wire.parse_topic(topic)[2]
        lines += ingest(topic, wire.encode(channel, msg), 0).lines
    lines.append(liveness_line("lab", "node3", False, "silent", T0))
    writer = writer_for(influxdb)
    writer.write("\n".join(lines).encode())

    # A raw newline would end the line: it is stored as the two characters \n.
    assert first_row(influxdb.query("SELECT * FROM event WHERE kind = 'session_end'")) == {
        "time": "2025-11-24T16:00:00Z", "badge": "00ff00ff00ff00ff", "ct_on_s": 60, "ct_wh": 40,
        "detail": detail.replace("\ud800", "?").replace("\n", "\\n"),
        "device": "node1", "kind": "session_end",
        "ok": None, "reason": "badge_out", "seq": 3, "sid": 9, "site": "lab",
    }
    badge = influxdb.query("SELECT ok, seq FROM event WHERE kind = 'badge'")[0]
    assert badge.values == [["2025-11-24T16:00:00.001Z", False, 4]]
    assert first_row(influxdb.query("SELECT * FROM status WHERE device = 'node2'")) == {
        "time": "2025-11-24T16:00:00Z", "device": "node2", "dropped": 0, "fw": 'fw "2"',
        "heap": 1000, "online": 1, "outbox": 3, "reconnects": 1, "role": "meter", "rssi": -70,
        "site": "lab", "state": "online", "up": 5,
    }
    silent = influxdb.query("SELECT online, state FROM status WHERE device = 'node3'")[0]
    assert silent.values == [["2025-11-24T16:00:00Z", 0, "silent"]]
