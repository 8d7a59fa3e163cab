"""firing -> notified -> acknowledged (by whom) -> resolved. Findings with a
dedupe key that already has an open alert update it instead of opening another;
an alert resolves when its condition has been absent for `resolve_after_s`
(so a condition that flickers at its threshold does not page twice), unless
the rules say its absence proves nothing now (`held`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import LifecycleConfig
from alerts.findings import Finding
from alerts.models import OPEN_STATES, Alert, AlertDelivery


class LifecycleError(ValueError):
    """A state change that the alert's current state does not allow."""


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Outcome:
    deliveries: list[int]  # ids of new deliveries to send
    changed: list[Alert]  # every alert this evaluation opened, updated or resolved


def apply(
    session: Session,
    findings: Sequence[Finding],
    now: datetime,
    config: LifecycleConfig,
    channels: Sequence[str],
    held: Collection[str] = frozenset(),
    judged: Callable[[str], bool] | None = None,
) -> Outcome:
    """Record one evaluation's findings. Open alerts whose key is in `held`, or
    whose kind this evaluation could not judge (`judged(kind)` false: its data
    was out of reach), and that were not found stay as they are."""
    open_alerts = {
        a.dedupe_key: a
        for a in session.scalars(select(Alert).where(Alert.state.in_(OPEN_STATES)))
    }
    deliveries: list[AlertDelivery] = []
    changed: list[Alert] = []
    seen: set[str] = set()
    for finding in findings:
        key = finding.dedupe_key
        if key in seen:
            continue
        seen.add(key)
        alert = open_alerts.get(key)
        if alert is None:
            alert = Alert(
                dedupe_key=key, kind=finding.kind, site=finding.site, device=finding.device,
                subject=finding.subject, severity=finding.severity, state="firing",
                summary=finding.summary, evidence=finding.evidence,
                latest_evidence=finding.evidence, details=finding.details, occurrences=1,
                fired_at=now, last_seen_at=now,
            )
            session.add(alert)
            changed.append(alert)
            deliveries += [AlertDelivery(alert=alert, event="fired", channel=c, created_at=now)
                           for c in channels]
        else:
            alert.last_seen_at = now
            alert.summary = finding.summary
            alert.latest_evidence = finding.evidence
            alert.details = finding.details
            alert.occurrences += 1
            changed.append(alert)
    quiet = timedelta(seconds=config.resolve_after_s)
    for key, alert in open_alerts.items():
        if key in seen or key in held or (judged is not None and not judged(alert.kind)):
            continue
        if now - as_utc(alert.last_seen_at) >= quiet:
            alert.state = "resolved"
            alert.resolved_at = now
            changed.append(alert)
            deliveries += [AlertDelivery(alert=alert, event="resolved", channel=c, created_at=now)
                           for c in channels]
    session.add_all(deliveries)
    session.commit()
    return Outcome([d.id for d in deliveries], changed)


def acknowledge(
    session: Session, alert_id: int, who: str, now: datetime, commit: bool = True
) -> Alert:
    """`commit=False` leaves the transaction to the caller (the api adds its audit row)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise LookupError(f"no alert with id {alert_id}")
    if not who.strip():
        raise LifecycleError("acknowledging needs the name of who acknowledges")
    if alert.state == "resolved":
        raise LifecycleError(f"alert {alert_id} is already resolved")
    if alert.state == "acknowledged":
        raise LifecycleError(
            f"alert {alert_id} was already acknowledged by {alert.acknowledged_by}"
        )
    alert.state = "acknowledged"
    alert.acknowledged_by = who
    alert.acknowledged_at = now
    if commit:
        session.commit()
    return alert


def record_attempt(
    session: Session, delivery_id: int, error: str | None, now: datetime, final: bool
) -> None:
    """One try of one delivery; the first delivered `fired` notice makes the alert notified."""
    delivery = session.get(AlertDelivery, delivery_id)
    if delivery is None:
        return
    delivery.attempts += 1
    if error is None:
        delivery.status = "sent"
        delivery.delivered_at = now
        delivery.last_error = None
        alert = delivery.alert
        if delivery.event == "fired" and alert.state == "firing":
            alert.state = "notified"
            alert.notified_at = now
    else:
        delivery.last_error = error[:2000]
        if final:
            delivery.status = "failed"
    session.commit()


def pending_deliveries(session: Session) -> list[int]:
    """Deliveries still to send, e.g. after a restart of the service."""
    return list(session.scalars(
        select(AlertDelivery.id).where(AlertDelivery.status == "pending").order_by(AlertDelivery.id)
    ))
