"""Points in the data contract's shape (what the gateway writes), for a real InfluxDB."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, NamedTuple

from protocol import wire


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Run:
    """A machine drawing `watts` from `start` to `end` (ISO, UTC)."""

    start: str
    end: str
    watts: int


class Sample(NamedTuple):
    """What a machine node reports once per step (the data contract's telemetry)."""

    ms: int
    wh: int
    on_s: int
    watts: int
    seq: int


def telemetry_samples(
    start: str, end: str, runs: Sequence[Run], step_s: int = 60, base_w: int = 0
) -> list[Sample]:
    """One sample per `step_s`: cumulative `wh` and `on_s`; power is `base_w` plus
    every run covering the moment."""
    samples = []
    wh = Fraction(0)
    on_s = 0
    t, stop = ms(start), ms(end)
    seq = 0
    while t <= stop:
        watts = base_w + sum(r.watts for r in runs if ms(r.start) < t <= ms(r.end))
        wh += Fraction(watts * step_s, 3600)
        on_s += step_s if watts else 0
        seq += 1
        samples.append(Sample(t, int(wh), on_s, watts, seq))
        t += step_s * 1000
    return samples


def telemetry_lines(
    site: str,
    device: str,
    start: str,
    end: str,
    runs: Sequence[Run],
    step_s: int = 60,
    base_w: int = 0,
) -> list[str]:
    """The samples as the gateway writes them: `wh`, `on_s`, power reading, seq, tq."""
    return [
        f"telemetry,device={device},site={site} wh={s.wh}i,on_s={s.on_s}i,w={float(s.watts)},"
        f"running={1.0 if s.watts else 0.0},seq={s.seq}i,tq=1i {s.ms}"
        for s in telemetry_samples(start, end, runs, step_s, base_w)
    ]


def telemetry_message(sample: Sample) -> dict[str, Any]:
    """The sample as its node publishes it (protocol.wire), stamped with its time."""
    return wire.telemetry(
        sample.seq,
        sample.ms,
        {"wh": sample.wh, "on_s": sample.on_s},
        {"w": float(sample.watts), "running": 1.0 if sample.watts else 0.0},
    )


def session_lines(
    site: str,
    device: str,
    sid: int,
    badge: str,
    start: str,
    end: str | None,
    seq: int,
    wh: tuple[int, int] = (0, 0),
) -> list[str]:
    tags = f"device={device},site={site}"
    lines = [
        f'event,{tags},kind=badge seq={seq}i,badge="{badge}",ok=true {ms(start) - 1}',
        f'event,{tags},kind=session_start seq={seq + 1}i,sid={sid}i,badge="{badge}",ct_wh={wh[0]}i '
        f"{ms(start)}",
    ]
    if end is not None:
        lines.append(
            f'event,{tags},kind=session_end seq={seq + 2}i,sid={sid}i,badge="{badge}",'
            f'reason="badge_out",ct_wh={wh[1]}i {ms(end)}'
        )
    return lines
