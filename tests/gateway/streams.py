"""Telemetry streams for the gateway tests: every point has a distinct
(device, ts), so InfluxDB's point identity makes a duplicate invisible and a
count is an exact check of what arrived."""

from __future__ import annotations

from collections.abc import Iterator

from protocol import wire

T0 = 1764000000000


def telemetry_stream(
    count: int, devices: int = 4, site: str = "lab", first: int = 0
) -> Iterator[tuple[str, bytes]]:
    """Messages first..first+count-1, spread round-robin over node1..nodeN."""
    for n in range(first, first + count):
        device = f"node{n % devices + 1}"
        seq = n // devices
        msg = wire.telemetry(seq, T0 + seq, {"wh": seq * 3, "on_s": seq}, {"w": 100.0 + n % 7})
        yield wire.topic(site, device, "telemetry"), wire.encode("telemetry", msg)
