"""Hostile scenario files: `python -m api.allocate` answers any malformed file with
exit 2 and one line naming the problem on stderr, never a traceback."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.allocate import main

ROOT = Path(__file__).resolve().parents[2]
WORKED = json.loads((ROOT / "tests/allocation/data/worked_example.json").read_text())


def _with(path: str, value: Any) -> bytes:
    data = copy.deepcopy(WORKED)
    *parents, last = path.split("/")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return json.dumps(data).encode()


HOSTILE: dict[str, tuple[bytes, str]] = {
    "deep JSON": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "deep object in a field": (
        _with("period", json.loads("[" * 900 + "]" * 900)),
        "period: expected an object, got list",
    ),
    "5,000-digit JSON number": (
        _with("bill/bands/0/kwh", 0).replace(b'"kwh": 0', b'"kwh": ' + b"9" * 5000),
        "a number of 5000 digits",
    ),
    "5,000-digit amount": (
        _with("bill/fixed", "9" * 5000),
        "bill.fixed: amount of 5000 characters",
    ),
    "amount beyond any bill": (
        _with("bill/bands/0/cost", "1000000000000.00"),
        "bill.bands[0].cost: amount 1000000000000.00 beyond any bill",
    ),
    "load beyond any building": (
        _with("demand_intervals_kw/1/C", "99999999999999999999"),
        "demand_intervals_kw[1].C: amount 99999999999999999999 beyond any bill",
    ),
    "counter beyond any meter": (
        _with(
            "machines",
            [{"id": "M", "rated_kw": "1", "counter_wh": [["2026-01-01T00:00:00", 10**15]]}],
        ),
        "machines[0].counter_wh[0][1]: amount 1000000000000000 beyond any bill",
    ),
    "not UTF-8": ('{"period": "Zürich"}'.encode("latin-1"), "is not UTF-8 text (byte 13)"),
    "duplicated key": (
        json.dumps(WORKED).replace('"fixed": "51.11"', '"fixed": "51.11", "fixed": "0"').encode(),
        "key 'fixed' given twice in one object",
    ),
    "newline in a key": (_with("metered_kwh", {"A\nB": {"peak": "1"}}), "malformed id 'A\\nB'"),
    "empty file": (b"", "is not JSON"),
    "NaN": (_with("bill/fixed", float("nan")), "bill.fixed: expected a decimal string, got nan"),
}


def _run(content: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "scenario.json"
    path.write_bytes(content)
    return subprocess.run(
        [sys.executable, "-m", "api.allocate", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _assert_one_line_refusal(code: int, out: str, err: str) -> str:
    assert "Traceback" not in err, err
    assert code == 2, (code, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert len(lines[0]) < 400, lines[0]
    return lines[0]


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_gets_exit_2_and_one_line(case: str, tmp_path: Path) -> None:
    content, message = HOSTILE[case]
    done = _run(content, tmp_path)
    line = _assert_one_line_refusal(done.returncode, done.stdout, done.stderr)
    assert message in line


def _main(content: bytes, tmp_path: Path) -> tuple[int, str, str]:
    """main() in this process: what the program does, at hypothesis's pace."""
    path = tmp_path / "fuzz.json"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(path)])
    return code, out.getvalue(), err.getvalue()


def _check(code: int, out: str, err: str) -> None:
    if code == 0:  # a mutation may leave a valid scenario: then it is split
        assert err == "" and "total" in json.loads(out)
    else:
        _assert_one_line_refusal(code, out, err)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["1", "-1", "0.5", "2026-01-15", "peak", "A", "U1", "9" * 50]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in items:
        found += _paths(child, (*prefix, key))
    return found


PATHS = _paths(WORKED)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """The worked example with a few values swapped for garbage: the deep checks run."""
    data = copy.deepcopy(WORKED)
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        node = data
        with contextlib.suppress(KeyError, IndexError, TypeError):
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = draw(JSON)
    return json.dumps(data).encode()


FUZZ = settings(
    max_examples=400, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip


@FUZZ
@given(content=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()) | mutated())
def test_garbage_never_escapes_as_an_exception(content: bytes, tmp_path: Path) -> None:
    _check(*_main(content, tmp_path))


@settings(FUZZ, max_examples=8)
@given(content=mutated())
def test_garbage_through_the_program(content: bytes, tmp_path: Path) -> None:
    done = _run(content, tmp_path)
    _check(done.returncode, done.stdout, done.stderr)
