"""Offline split: `python -m api.allocate SCENARIO.json` prints the split as JSON.

Exit 0 with the split on stdout; exit 2 with one line naming the problem on
stderr when the scenario is unreadable or invalid. No database, no server.
"""

from __future__ import annotations

import argparse
import json
import sys

from api.allocation import ScenarioError, allocate, parse_scenario, split_to_csv, split_to_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.allocate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("scenario", help="scenario JSON file (see docs/allocation.md), - for stdin")
    parser.add_argument("--csv", action="store_true", help="print the CSV export instead of JSON")
    args = parser.parse_args(argv)
    try:
        if args.scenario == "-":
            data = json.load(sys.stdin)
        else:
            with open(args.scenario, encoding="utf-8") as f:
                data = json.load(f)
        split = allocate(parse_scenario(data))
    except OSError as e:
        print(f"error: cannot read {args.scenario}: {e.strerror}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as e:
        print(f"error: {args.scenario} is not JSON: {e.msg} at line {e.lineno}", file=sys.stderr)
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
