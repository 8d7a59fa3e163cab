"""Points in the data contract's shape (what the gateway writes), for a real InfluxDB."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Run:
    """A machine drawing `watts` from `start` to `end` (ISO, UTC)."""

    start: str
    end: str
    watts: int


def telemetry_lines(
    site: str,
    device: str,
    start: str,
    end: str,
    runs: Sequence[Run],
    step_s: int = 60,
    base_w: int = 0,
) -> list[str]:
    """One telemetry point per `step_s`: cumulative `wh`, `on_s`, power reading, seq, tq.
    Power is `base_w` plus every run covering the moment."""
    lines = []
    wh = Fraction(0)
    on_s = 0
    t, stop = ms(start), ms(end)
    seq = 0
    while t <= stop:
        watts = base_w + sum(r.watts for r in runs if ms(r.start) < t <= ms(r.end))
        wh += Fraction(watts * step_s, 3600)
        on_s += step_s if watts else 0
        seq += 1
        lines.append(
            f"telemetry,device={device},site={site} wh={int(wh)}i,on_s={on_s}i,w={float(watts)},"
            f"running={1.0 if watts else 0.0},seq={seq}i,tq=1i {t}"
        )
        t += step_s * 1000
    return lines


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
