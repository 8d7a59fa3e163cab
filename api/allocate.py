"""Offline split: `python -m api.allocate SCENARIO.json` prints the split as JSON.

Exit 0 with the split on stdout; exit 2 with one line naming the problem on
stderr when the scenario is unreadable or invalid. No database, no server.
"""

from __future__ import annotations

import argparse
import json
import reprlib
import sys
from typing import Any

from api.allocation import ScenarioError, allocate, parse_scenario, split_to_csv, split_to_dict

# JSON numbers are read as text where they matter; a longer integer is garbage, and
# Python would refuse one of 4,300 digits with a ValueError of its own.
MAX_INT_DIGITS = 40


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ScenarioError(f"a number of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys; a scenario with both is ambiguous.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ScenarioError(f"key {reprlib.repr(key)} given twice in one object")
        obj[key] = value
    return obj


def load_json(raw: bytes, name: str) -> Any:
    """A scenario file's JSON, or ScenarioError naming what is wrong with it: not UTF-8,
    not JSON, nested too deep, a key given twice, a number of absurd length."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{name} is not UTF-8 text (byte {e.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_int)
    except json.JSONDecodeError as e:
        raise ScenarioError(f"{name} is not JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise ScenarioError(f"{name} is nested too deeply to be a scenario") from None
    except ScenarioError as e:
        raise ScenarioError(f"{name}: {e}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.allocate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("scenario", help="scenario JSON file (see docs/allocation.md), - for stdin")
    parser.add_argument("--csv", action="store_true", help="print the CSV export instead of JSON")
    args = parser.parse_args(argv)
    try:
        if args.scenario == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(args.scenario, "rb") as f:
                raw = f.read()
        split = allocate(parse_scenario(load_json(raw, args.scenario)))
    except OSError as e:
        print(f"error: cannot read {args.scenario}: {e.strerror}", file=sys.stderr)
        return 2
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.csv:
        sys.stdout.write(split_to_csv(split))
    else:
        json.dump(split_to_dict(split), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
