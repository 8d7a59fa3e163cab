"""Two gateways on one MQTT 5 shared subscription split the stream: both get a
share, and every message is written exactly once."""

from __future__ import annotations

from pathlib import Path

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until
from tests.gateway.streams import telemetry_stream


def test_two_gateways_share_the_stream_and_store_each_message_once(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gateways = [
        GatewayProcess(
            tmp_path / f"gw{i}", mosquitto, influxdb,
            mqtt_username=GATEWAY_USER, mqtt_password=GATEWAY_PASSWORD,
            mqtt_client_id=f"gateway-{i}", shared_group="ingest", batch_interval_s=0.05,
        )
        for i in (1, 2)
    ]
    try:
        for gw in gateways:
            gw.start()
        assert publish_all(mosquitto, telemetry_stream(4000)) == 4000
        wait_until(lambda: influxdb.count("telemetry", "seq") >= 4000, 30, "4,000 points")

        def written() -> list[float]:
            return [gw.metric("gateway_written_points_total") or 0 for gw in gateways]

        wait_until(lambda: sum(written()) >= 4000, 10, "both gateways to report")
        received = [gw.metric("gateway_received_total") or 0 for gw in gateways]
        assert influxdb.count("telemetry", "seq") == 4000
        assert sum(received) == 4000, received
        assert sum(written()) == 4000, written()
        assert min(received) > 0, received
    finally:
        for gw in gateways:
            gw.close()
