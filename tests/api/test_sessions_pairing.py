"""Rebuilding sessions from `event` rows: pairs by sid, a lost end, a lost start."""

from __future__ import annotations

from typing import Any

from api.services.sessions import _pair


def _row(
    t: int, kind: str, sid: int, badge: str = "a" * 16, wh: int | None = None
) -> dict[str, Any]:
    return {"time": t, "kind": kind, "sid": sid, "badge": badge, "reason": None, "ct_wh": wh}


def test_pairs_lost_end_and_lost_start() -> None:
    rows = [
        _row(1000, "session_start", 1, wh=10),
        _row(5000, "session_end", 1, wh=70),
        _row(6000, "session_start", 2, wh=70),  # its end was lost: the next start closes it
        _row(9000, "session_start", 3, wh=90),
        _row(9500, "session_end", 99),  # an end whose start was lost: ignored
        _row(12000, "session_end", 3, wh=80),  # counter reset during the session
        _row(13000, "session_start", 4),  # still running
    ]
    found = _pair("node1", reversed(rows))  # order of arrival does not matter
    assert [(s.sid, s.start_ms, s.end_ms, s.reason, s.wh) for s in found] == [
        (1, 1000, 5000, "", 60),
        (2, 6000, 9000, "superseded", None),
        (3, 9000, 12000, "", None),
        (4, 13000, None, "", None),
    ]
