"""InfluxQL literals: identifiers, strings and time bounds, quoted once for
every query the project builds."""

from __future__ import annotations

from datetime import UTC, datetime


def quote_ident(name: str) -> str:
    """A double-quoted identifier (measurement, field, tag key, user, database)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """A single-quoted string literal (tag values, passwords)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rfc3339(moment: datetime) -> str:
    """A time literal to the second, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_range(since_ms: int, until_ms: int) -> str:
    """Both bounds explicit, so that a query at a given `now` sees what it saw then."""
    return f"time > {int(since_ms)}ms AND time <= {int(until_ms)}ms"
