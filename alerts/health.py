"""`python -m alerts.health`: the container's health check. Healthy while the
evaluation loop keeps finishing passes against InfluxDB: the heartbeat file
(ALERTS_HEARTBEAT_FILE) is younger than three intervals."""

from __future__ import annotations

import sys
import time

from alerts.settings import Settings


def check(settings: Settings) -> str:
    """Empty when healthy, else what is wrong."""
    if settings.heartbeat_file is None:
        return "ALERTS_HEARTBEAT_FILE is not set"
    try:
        age = time.time() - settings.heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        return f"no pass has finished yet ({settings.heartbeat_file} missing)"
    limit = 3 * settings.interval_s
    return f"the last pass finished {age:.0f} s ago (limit {limit:.0f} s)" if age > limit else ""


def main() -> int:
    problem = check(Settings())
    if problem:
        print(f"alerts unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
