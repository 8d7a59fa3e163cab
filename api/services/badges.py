"""Badges: enrolled as keyed hashes of the card UID, revoked, never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Badge, Device, Member, User
from api.schemas.people import BadgeCreate, TappedBadgeCreate
from api.services import acl, building
from api.services.errors import Conflict, Invalid, NotFound
from api.services.records import add_row, get, revoke
from api.services.work import Work
from protocol.badge import badge_hash, uid_from_hex
from timeseries import InfluxClient, quote_string, rfc3339

# How long after a tap its card may be enrolled from the node's report.
TAP_WINDOW = timedelta(minutes=5)


def hash_uid(uid: str, key: bytes) -> str:
    """`key` is the site's badge key as the nodes read it (Settings.badge_key)."""
    try:
        raw = uid_from_hex(uid)
    except ValueError:
        raise Invalid(f"badge uid {uid!r} is not hex") from None
    if not 4 <= len(raw) <= 10:
        raise Invalid(f"badge uid has {len(raw)} bytes; card UIDs have 4, 7 or 10")
    return badge_hash(key, raw)


def list_badges(session: Session, user: User, member_id: int | None) -> list[Badge]:
    query = select(Badge).order_by(Badge.id)
    if user.role == "member":
        member_id = user.member_id or 0
    if member_id is not None:
        query = query.where(Badge.member_id == member_id)
    return list(session.scalars(query))


def enrol_badge(work: Work, body: BadgeCreate, hash_key: bytes) -> Badge:
    get(work.session, Member, body.member_id, "member")
    return _enrol(work, body.member_id, hash_uid(body.uid, hash_key), body.kind, body.holder)


def enrol_tapped(work: Work, reader: InfluxClient | None, body: TappedBadgeCreate,
                 now: datetime | None = None) -> Badge:
    """Enrol the newest card that was tapped on `body.device` within TAP_WINDOW and
    is not enrolled yet: the node reported its hash (computed with the node's own
    badge key, so the node will accept it) when it refused it."""
    session = work.session
    get(session, Member, body.member_id, "member")
    device = session.scalar(select(Device).where(Device.site_id == work.site.id,
                                                 Device.name == body.device))
    if device is None:
        raise NotFound(f"device {body.device} not found")
    moment = now or datetime.now(UTC)
    taps = building.reading(reader, lambda r: recent_taps(r, work.site.name, device.name,
                                                          moment - TAP_WINDOW, moment))
    known = set(session.scalars(select(Badge.hash).where(Badge.hash.in_(taps))))
    unknown = [h for h in taps if h not in known]
    if not unknown:
        minutes = int(TAP_WINDOW.total_seconds() // 60)
        raise NotFound(f"no card that is not enrolled was tapped on {device.name} in the last "
                       f"{minutes} minutes: tap it on the node's reader, then try again")
    return _enrol(work, body.member_id, unknown[0], body.kind, body.holder)


def recent_taps(reader: InfluxClient, site: str, device: str, since: datetime,
                until: datetime) -> list[str]:
    """Badge hashes of the node's badge decisions in [since, until], newest first."""
    query = (f'SELECT "badge" FROM "event" WHERE "site" = {quote_string(site)} AND '
             f'"device" = {quote_string(device)} AND "kind" = \'badge\' AND '
             f"time >= '{rfc3339(since)}' AND time <= '{rfc3339(until)}' ORDER BY time DESC")
    seen: list[str] = []
    for series in reader.query(query):
        for row in series.rows:
            badge = str(row.get("badge") or "")
            if badge and badge not in seen:
                seen.append(badge)
    return seen


def _enrol(work: Work, member_id: int, digest: str, kind: str, holder: str) -> Badge:
    session = work.session
    existing = session.scalar(select(Badge).where(Badge.hash == digest))
    if existing is not None:
        raise Conflict(
            f"this card is already enrolled (badge {existing.id}, member {existing.member_id})"
        )
    badge = add_row(
        session, work.audit, Badge(member_id=member_id, hash=digest, kind=kind, holder=holder)
    )
    machines = acl.machines_of_member(session, member_id)
    work.acl.check(session, machines)
    session.commit()
    work.acl.publish(machines)
    return badge


def revoke_badge(work: Work, badge_id: int) -> Badge:
    badge = revoke(work.audit, get(work.session, Badge, badge_id, "badge"), "badge")
    machines = acl.machines_of_member(work.session, badge.member_id)
    work.session.commit()
    work.acl.publish(machines)
    return badge
