"""The node on the flash model (simulator/devices/flash.py): LittleFS's
erase-and-copy (45 ms typical per 4 KB block) stays off the badge path,
records the broker acknowledged in time are never written, and a power cut
at any point of a config write leaves config.json whole. One check script,
run under CPython and under MicroPython 1.27."""

from __future__ import annotations

from pathlib import Path

from tests.firmware.micropython import report, run_text
from tests.firmware.mp import flash_check


def check_figures(out: dict) -> None:
    badge = out["check_badge_path_writes_no_flash"]
    assert badge["badge_path_ms"] == 0 and 45 <= badge["write_ms"] < 48, badge
    cut = out["check_config_write_survives_power_cut"]
    assert cut["cuts"] >= 2 and "old" in cut["outcomes"] and "new" in cut["outcomes"], cut
    assert out["check_acl_refused_keeps_the_cached_one"]["refused"] == 2
    assert out["check_acknowledged_records_need_no_flash"]["erases_for_5_acked"] == 0


def test_flash_under_cpython(tmp_path: Path) -> None:
    check_figures(flash_check.run(str(tmp_path)))


def test_flash_under_micropython(tmp_path: Path) -> None:
    script = "import os\nos.mkdir('/tmp/fl')\nfrom mp import flash_check\n" \
             "print('FLASH-OK ' + json.dumps(flash_check.run('/tmp/fl')))\n"
    check_figures(report(run_text("import json\n" + script, tmp_path), "FLASH-OK"))
