"""The spool on a real folder: its bound, and whatever else lies in the folder
set aside in quarantine/ with a log line instead of stopping the start; then
the gateway itself starting on such a folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from gateway.spool import Spool, SpoolFull
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import wait_until
from tests.gateway.streams import T0

BATCH = "0000000000000003.lp"


def foreign_folder(folder: Path, batch: bytes) -> set[str]:
    """A spool folder as a crash, an operator or a disk can leave it; returns
    the entries that must be set aside."""
    folder.mkdir(parents=True)
    (folder / BATCH).write_bytes(batch)
    (folder / "0000000000000004.tmp").write_bytes(b"half a batch")  # our own, unfinished
    (folder / "notes.txt").write_text("hello")
    (folder / "7.lp").write_bytes(batch)  # not the spool's numbering
    (folder / "0000000000000005.lp.part").write_bytes(b"m v")  # a partial copy
    (folder / "0000000000000006.lp").write_bytes(b"")  # empty
    (folder / "0000000000000007.lp").mkdir()  # a folder named like a batch
    (folder / "odd folder").mkdir()
    (folder / "odd folder" / "inside").write_text("x")
    (folder / "0000000000000008.lp").symlink_to(folder / BATCH)
    (folder / "worker-2").mkdir()  # a GATEWAY_WORKERS spool: not foreign
    (folder / "quarantine").mkdir()
    (folder / "quarantine" / "notes.txt").write_text("set aside before")
    return {"notes.txt", "7.lp", "0000000000000005.lp.part", "0000000000000006.lp",
            "0000000000000007.lp", "odd folder", "0000000000000008.lp"}


def test_foreign_entries_are_set_aside_and_the_batches_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "spool"
    foreign = foreign_folder(folder, b"m v=1 1")
    with caplog.at_level(logging.INFO, "gateway.spool"):
        spool = Spool(folder, 1 << 20)
    assert len(spool) == 1 and spool.bytes == len(b"m v=1 1")
    assert spool.oldest() == (folder / BATCH, b"m v=1 1")
    assert spool.quarantined == len(foreign)
    quarantine = folder / "quarantine"
    assert {p.name for p in quarantine.iterdir()} == foreign | {"notes.txt.1"}
    assert (quarantine / "notes.txt").read_text() == "set aside before"  # nothing overwritten
    assert (quarantine / "notes.txt.1").read_text() == "hello"
    assert (quarantine / "odd folder" / "inside").read_text() == "x"
    assert {p.name for p in folder.iterdir()} == {BATCH, "quarantine", "worker-2"}
    set_aside = {getattr(r, "file", "") for r in caplog.records
                 if r.msg == "foreign file in the spool set aside"}
    assert set_aside == foreign
    assert any(r.msg == "unfinished spool file removed" for r in caplog.records)
    # Numbering goes on after the batch kept.
    assert spool.put(b"m v=2 2").name == "0000000000000004.lp"


def test_a_batch_file_that_turns_unreadable_is_set_aside_and_the_next_read(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool", 1 << 20)
    first = spool.put(b"m v=1 1")
    spool.put(b"m v=2 2")
    first.unlink()
    first.mkdir()  # reads now fail with IsADirectoryError
    oldest = spool.oldest()
    assert oldest is not None and oldest[1] == b"m v=2 2"
    assert (tmp_path / "spool" / "quarantine" / first.name).is_dir()
    assert len(spool) == 1 and spool.bytes == 7 and spool.quarantined == 1


def test_the_spool_is_bounded_but_an_empty_one_takes_any_batch(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    spool = Spool(folder, 100)
    big = spool.put(b"x" * 150)  # alone over the bound: it would otherwise wait forever
    with pytest.raises(SpoolFull):
        spool.put(b"y")
    spool.remove(big)
    spool.put(b"a" * 60)
    spool.put(b"b" * 40)  # exactly the bound
    with pytest.raises(SpoolFull):
        spool.put(b"c")
    assert spool.bytes == 100 and len(list(folder.glob("*.lp"))) == 2
    again = Spool(folder, 100)  # the size is counted from the files at start
    assert again.bytes == 100 and len(again) == 2
    with pytest.raises(SpoolFull):
        again.put(b"c")


def test_the_gateway_starts_on_a_spool_with_foreign_files_and_drains_the_batch(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB
) -> None:
    """A batch holding a line InfluxDB 1.6 cannot parse: the other lines are
    stored and that line is dead-lettered."""
    lines = [f"telemetry,site=lab,device=node{n % 4 + 1} seq={n}i,w=1.5 {T0 + n}"
             for n in range(50)]
    lines[20] = "telemetry,site=lab,device=node1 seq= 7"
    gateway = GatewayProcess(tmp_path / "gw", mosquitto, influxdb, mqtt_username=GATEWAY_USER,
                             mqtt_password=GATEWAY_PASSWORD)
    foreign = foreign_folder(gateway.spool_dir, "\n".join(lines).encode())
    gateway.start()
    try:
        wait_until(lambda: influxdb.count("telemetry", "seq") == 49, 20, "49 lines stored")
        wait_until(lambda: not list(gateway.spool_dir.glob("*.lp")), 10, "the batch drained")
        entries = [json.loads(row) for row in gateway.deadletter_file.read_text().splitlines()]
        assert [(e["reason"], e["payload"]) for e in entries] == [("influx_rejected", lines[20])]
        assert entries[0]["detail"].startswith("unable to parse: ")
        assert gateway.metric("gateway_spool_quarantined") == len(foreign)
        assert {p.name for p in (gateway.spool_dir / "quarantine").iterdir()} == (
            foreign | {"notes.txt.1"}
        )
        logged = [json.loads(row) for row in gateway.log_path.read_text().splitlines()
                  if row.startswith("{")]
        assert {e["file"] for e in logged if e["msg"] == "foreign file in the spool set aside"} == (
            foreign
        )
    finally:
        gateway.close()
