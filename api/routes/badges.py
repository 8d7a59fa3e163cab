"""Badges: enrolled as keyed hashes of the card UID, revoked, never deleted."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import AuditorDep, CurrentUser, Manager, SessionDep, SettingsDep
from api.models import Badge, Member
from api.routes.common import (
    AclPushDep,
    add_row,
    conflict,
    get_or_404,
    revoke,
    unprocessable,
)
from api.schemas.people import BadgeCreate, BadgePublic
from api.services import acl
from protocol.badge import badge_hash, uid_from_hex

router = APIRouter(prefix="/badges", tags=["badges"])


def hash_uid(uid: str, key: str) -> str:
    try:
        raw = uid_from_hex(uid)
    except ValueError:
        raise unprocessable(f"badge uid {uid!r} is not hex") from None
    if not 4 <= len(raw) <= 10:
        raise unprocessable(f"badge uid has {len(raw)} bytes; card UIDs have 4, 7 or 10")
    return badge_hash(key.encode(), raw)


@router.get("", response_model=list[BadgePublic])
def list_badges(
    user: CurrentUser, session: SessionDep, member_id: int | None = None
) -> list[Badge]:
    query = select(Badge).order_by(Badge.id)
    if user.role == "member":
        member_id = user.member_id or 0
    if member_id is not None:
        query = query.where(Badge.member_id == member_id)
    return list(session.scalars(query))


@router.post("", response_model=BadgePublic, status_code=201)
def enrol_badge(
    body: BadgeCreate,
    _: Manager,
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditorDep,
    push: AclPushDep,
) -> Badge:
    get_or_404(session, Member, body.member_id, "member")
    digest = hash_uid(body.uid, settings.badge_hash_key)
    existing = session.scalar(select(Badge).where(Badge.hash == digest))
    if existing is not None:
        raise conflict(
            f"this card is already enrolled (badge {existing.id}, member {existing.member_id})"
        )
    badge = add_row(
        session,
        audit,
        Badge(member_id=body.member_id, hash=digest, kind=body.kind, holder=body.holder),
    )
    machines = acl.machines_of_member(session, body.member_id)
    push.check(session, machines)
    session.commit()
    push.publish(machines)
    return badge


@router.delete("/{badge_id}", response_model=BadgePublic)
def revoke_badge(
    badge_id: int, _: Manager, session: SessionDep, audit: AuditorDep, push: AclPushDep
) -> Badge:
    badge = revoke(audit, get_or_404(session, Badge, badge_id, "badge"), "badge")
    machines = acl.machines_of_member(session, badge.member_id)
    session.commit()
    push.publish(machines)
    return badge
