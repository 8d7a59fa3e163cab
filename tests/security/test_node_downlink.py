"""Attacks on a node's downlink, each of which must fail, under CPython and
under real MicroPython 1.27 (the node's own code on the flash model:
tests/firmware/mp/downlink_check.py): a forged ACL, a replayed older ACL
(version 3 with a badge since revoked, over version 9), a forged command, a
replayed command (also after a reboot), a forged repair of a node in safe
mode, and an ACL cached under a key the node no longer has. Each refusal
changes nothing and is an event with its reason code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.firmware.micropython import report, run_text
from tests.firmware.mp import downlink_check

EXPECTED = {
    "check_forged_acl_is_refused": {"refused": 4},
    "check_replayed_older_acl_is_refused": {"refused": 3},
    "check_forged_command_is_refused": {"refused": 4},
    "check_replayed_command_is_refused": {"refused": 3},
    "check_safe_mode_takes_only_signed_repairs": {"refused": 2},
    "check_a_node_given_a_new_key_drops_the_old_list": {"refused": 1},
}


def test_node_refuses_forged_and_replayed_downlink_under_cpython(tmp_path: Path) -> None:
    out: dict[str, Any] = downlink_check.run(str(tmp_path))
    assert out == EXPECTED


def test_node_refuses_forged_and_replayed_downlink_under_micropython(tmp_path: Path) -> None:
    script = (
        "import json, os\nos.mkdir('/tmp/dl')\nfrom mp import downlink_check\n"
        "print('DOWNLINK-OK ' + json.dumps(downlink_check.run('/tmp/dl')))\n"
    )
    assert report(run_text(script, tmp_path), "DOWNLINK-OK") == EXPECTED
