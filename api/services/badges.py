"""Badges: enrolled as keyed hashes of the card UID, revoked, never deleted."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Badge, Member, User
from api.schemas.people import BadgeCreate
from api.services import acl
from api.services.errors import Conflict, Invalid
from api.services.records import add_row, get, revoke
from api.services.work import Work
from protocol.badge import badge_hash, uid_from_hex


def hash_uid(uid: str, key: str) -> str:
    try:
        raw = uid_from_hex(uid)
    except ValueError:
        raise Invalid(f"badge uid {uid!r} is not hex") from None
    if not 4 <= len(raw) <= 10:
        raise Invalid(f"badge uid has {len(raw)} bytes; card UIDs have 4, 7 or 10")
    return badge_hash(key.encode(), raw)


def list_badges(session: Session, user: User, member_id: int | None) -> list[Badge]:
    query = select(Badge).order_by(Badge.id)
    if user.role == "member":
        member_id = user.member_id or 0
    if member_id is not None:
        query = query.where(Badge.member_id == member_id)
    return list(session.scalars(query))


def enrol_badge(work: Work, body: BadgeCreate, hash_key: str) -> Badge:
    session = work.session
    get(session, Member, body.member_id, "member")
    digest = hash_uid(body.uid, hash_key)
    existing = session.scalar(select(Badge).where(Badge.hash == digest))
    if existing is not None:
        raise Conflict(
            f"this card is already enrolled (badge {existing.id}, member {existing.member_id})"
        )
    badge = add_row(
        session,
        work.audit,
        Badge(member_id=body.member_id, hash=digest, kind=body.kind, holder=body.holder),
    )
    machines = acl.machines_of_member(session, body.member_id)
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
