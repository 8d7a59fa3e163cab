"""What the api shows of an alert (pydantic), built from the stored rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def _utc(value: Any) -> Any:
    # SQLite hands datetimes back naive; they were stored as UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @field_validator("*", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return _utc(value)


class DeliveryPublic(_Public):
    channel: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AlertPublic(_Public):
    id: int
    dedupe_key: str
    kind: str
    site: str
    device: str
    subject: str
    severity: str
    state: str
    summary: str
    occurrences: int
    fired_at: datetime
    last_seen_at: datetime
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class AlertDetail(AlertPublic):
    evidence: list[dict[str, Any]]
    latest_evidence: list[dict[str, Any]]
    details: dict[str, Any]
    deliveries: list[DeliveryPublic]
