"""`workers = 2`: one `python -m gateway` runs two worker processes on one
shared subscription. Every message is stored, each by exactly one worker, and
a SIGKILL of the supervising parent loses nothing: the workers stop cleanly
and the next start takes what the broker kept for their sessions."""

from __future__ import annotations

from pathlib import Path

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until
from tests.gateway.streams import telemetry_stream


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def worker_metric(gw: GatewayProcess, index: int, name: str) -> float:
    return gw.metric(name, index) or 0.0


def test_two_workers_store_every_message_once_and_outlive_a_killed_parent(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    gw = GatewayProcess(
        tmp_path / "gw", mosquitto, influxdb,
        mqtt_username=GATEWAY_USER, mqtt_password=GATEWAY_PASSWORD,
        mqtt_client_id="pool", workers=2, batch_interval_s=0.05,
    )
    workers: list[int] = []
    try:
        gw.start()
        assert gw.proc is not None
        wait_until(lambda: worker_metric(gw, 1, "gateway_subscribed") == 1, 20,
                   "worker 2 to subscribe")
        workers = children(gw.proc.pid)
        assert len(workers) == 2, workers

        assert publish_all(mosquitto, telemetry_stream(4000)) == 4000
        wait_until(lambda: influxdb.count("telemetry", "seq") >= 4000, 30, "4,000 points")
        received = [worker_metric(gw, i, "gateway_received_total") for i in (0, 1)]
        written = [worker_metric(gw, i, "gateway_written_points_total") for i in (0, 1)]
        assert influxdb.count("telemetry", "seq") == 4000
        assert sum(received) == 4000, received  # each message went to one worker
        assert sum(written) == 4000, written
        assert min(received) > 0, received  # both took a share
        assert {p.name for p in gw.spool_dir.iterdir()} <= {"worker-1", "worker-2"}

        def kill_parent(count: int) -> None:
            if count == 2000:
                gw.kill()

        # The parent dies mid-stream; its workers must notice and stop cleanly.
        assert publish_all(mosquitto, telemetry_stream(4000, first=4000), kill_parent) == 4000
        wait_until(lambda: not any(alive(p) for p in workers), 20, "orphaned workers to stop")
        gw.start()  # the next start takes what the broker kept for both sessions
        wait_until(lambda: influxdb.count("telemetry", "seq") >= 8000, 60, "8,000 points")
        assert influxdb.count("telemetry", "seq") == 8000
        workers = children(gw.proc.pid)
        assert len(workers) == 2, workers
    finally:
        gw.close()
    assert not any(alive(p) for p in workers)  # SIGTERM reached them through the parent
