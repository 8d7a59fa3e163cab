"""Golden vectors for the wire protocol, under CPython and under real MicroPython."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from protocol import wire
from tests.protocol.check_vectors import check

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VECTORS = json.loads((HERE / "vectors.json").read_text())
CPYTHON_ONLY = sum(1 for v in VECTORS["payloads"] if v.get("only") == "cpython")
TOPICS = len(VECTORS["topics"]["valid"]) + len(VECTORS["topics"]["invalid"])


def test_vectors_cover_every_rejection_code_and_channel() -> None:
    codes = {v["code"] for v in VECTORS["payloads"] if "code" in v}
    codes |= {v["code"] for v in VECTORS["topics"]["invalid"]}
    assert codes >= {
        "not_json", "not_object", "too_large", "bad_version", "missing_field", "wrong_type",
        "counter_not_int", "counter_negative", "not_finite", "ts_absurd", "bad_topic",
        "bad_name", "bad_hash", "bad_value", "too_many_fields", "duplicate_field", "bad_seq",
        "bad_mac",
    }
    valid_channels = {v["channel"] for v in VECTORS["payloads"] if "expect" in v}
    assert valid_channels == set(wire.CHANNELS)


def test_cpython_decodes_every_vector_as_written() -> None:
    counts, failures = check(VECTORS, wire, "cpython")
    assert failures == []
    assert counts == {"topics": TOPICS, "payloads": len(VECTORS["payloads"]), "skipped": 0}


def run_micropython(vectors_dir: Path) -> subprocess.CompletedProcess[str]:
    """check_vectors.py under MicroPython, on vectors_dir/vectors.json."""
    return subprocess.run(
        ["node", str(REPO / "tools/mpy/run.mjs"),
         "--mount", f"{REPO / 'protocol'}:/repo/protocol",
         "--mount", f"{vectors_dir}:/vectors",
         str(HERE / "check_vectors.py")],
        capture_output=True, text=True, timeout=120,
    )


def test_micropython_decodes_every_vector_as_written() -> None:
    run = run_micropython(HERE)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary == {
        "failures": 0,
        "counts": {
            "topics": TOPICS,
            "payloads": len(VECTORS["payloads"]) - CPYTHON_ONLY,
            "skipped": CPYTHON_ONLY,
        },
    }


def test_micropython_run_fails_on_a_wrong_vector(tmp_path: Path) -> None:
    broken = dict(VECTORS, payloads=[dict(VECTORS["payloads"][0], code="not_json")])
    (tmp_path / "vectors.json").write_text(json.dumps(broken))
    run = run_micropython(tmp_path)
    assert run.returncode == 1
    assert "FAIL telemetry, machine node: want not_json, got ok" in run.stdout
