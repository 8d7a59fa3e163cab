"""`python -m tests.security.probe URL TOKEN`: keeps asking GET /health and an
authenticated GET /auth/me until a line arrives on stdin, then prints one JSON
object: the latency of every answer, and what failed. Its own process, so that
what it measures is the api, not the attacking client's share of a GIL."""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx


def main() -> None:
    url, token = sys.argv[1], sys.argv[2]
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.readline()
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    latencies: list[float] = []
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            for path in ("/health", "/auth/me"):
                started = time.monotonic()
                try:
                    status = client.get(path, headers=headers).status_code
                except httpx.HTTPError as exc:
                    failures.append(f"{path}: {exc!r}")
                    continue
                latencies.append(time.monotonic() - started)
                if status != 200:
                    failures.append(f"{path}: {status}")
            stop.wait(0.05)
    print(json.dumps({"latencies": latencies, "failures": failures}))


if __name__ == "__main__":
    main()
