"""The login throttle: after a few failed logins for one username, or from one address,
no password is checked until a delay has passed, and the delay doubles with each further
failure (docs/security.md has the schedule).

The counts live in the database (`login_throttle`), so an api restart does not lift a
lockout, and several api processes on one database see the same counts. Each failure is
one atomic increment per key, in key order, so parallel failures neither lose a count
nor deadlock on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import LoginThrottle

# A key that has seen no failure for this long starts again from zero.
FORGET_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Schedule:
    free_failures: int
    first_delay_s: float
    max_delay_s: float

    def delay_s(self, failures: int) -> float:
        """How long no password is checked after the `failures`-th failure in a row:
        nothing for the free ones, then the first delay, doubling up to the maximum."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return min(self.first_delay_s * 2.0 ** min(over - 1, 60), self.max_delay_s)


@dataclass(frozen=True)
class Policy:
    per_user: Schedule
    per_address: Schedule

    def keys(self, username: str, address: str) -> list[tuple[str, Schedule]]:
        """The counters a login attempt touches, in a fixed order (lock order)."""
        return sorted(
            [(f"user:{username}", self.per_user), (f"addr:{address}", self.per_address)],
            key=lambda pair: pair[0],
        )


def wait_s(session: Session, keys: list[tuple[str, Schedule]], now_ms: int) -> float:
    """Seconds until a password may be checked for these keys (0: now)."""
    until = session.scalar(
        select(LoginThrottle.locked_until_ms)
        .where(LoginThrottle.key.in_([key for key, _ in keys]))
        .order_by(LoginThrottle.locked_until_ms.desc())
        .limit(1)
    )
    return max(0, (until or 0) - now_ms) / 1000


def record_failure(session: Session, keys: list[tuple[str, Schedule]], now_ms: int) -> float:
    """Counts one failure for each key; returns the seconds until the next check."""
    _insert_missing(session, [key for key, _ in keys])
    longest_ms = 0
    for key, schedule in keys:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(
                failures=case(
                    (LoginThrottle.last_failure_ms < now_ms - FORGET_MS, 1),
                    else_=LoginThrottle.failures + 1,
                ),
                last_failure_ms=now_ms,
            )
            .execution_options(synchronize_session=False)
        )
        row = session.get(LoginThrottle, key, populate_existing=True)
        assert row is not None  # inserted above, never deleted while locked by this update
        delay_ms = round(schedule.delay_s(row.failures) * 1000)
        if delay_ms:
            row.locked_until_ms = max(row.locked_until_ms, now_ms + delay_ms)
        longest_ms = max(longest_ms, row.locked_until_ms - now_ms)
    return longest_ms / 1000


def purge(session: Session, now_ms: int) -> None:
    """Keys quiet for a day and no longer locked go (unknown usernames would pile up).
    Its own transaction: deleting inside record_failure's could deadlock with another's."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_ms < now_ms - FORGET_MS,
            LoginThrottle.locked_until_ms < now_ms,
        )
    )


def forget_user(session: Session, username: str) -> None:
    """A successful login clears the user's count (not the address's: one's own account
    must not reset the count of guesses at others)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"user:{username}"))


def _insert_missing(session: Session, keys: list[str]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key in keys:
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, last_failure_ms=0, locked_until_ms=0)
            .on_conflict_do_nothing()
        )
