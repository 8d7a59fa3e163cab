"""Members: companies and persons with a cost centre."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Member, Site, User
from api.schemas.people import MemberCreate, MemberUpdate
from api.services import acl
from api.services.errors import Forbidden
from api.services.records import apply_update, create_coded, get
from api.services.work import Work


def list_members(session: Session, site: Site) -> list[Member]:
    return list(
        session.scalars(select(Member).where(Member.site_id == site.id).order_by(Member.code))
    )


def get_member(session: Session, user: User, member_id: int) -> Member:
    if user.role == "member" and user.member_id != member_id:
        raise Forbidden("members see only their own record")
    return get(session, Member, member_id, "member")


def profile(session: Session, user: User) -> dict[str, Any]:
    """Who is logged in, and the member they belong to."""
    member = session.get(Member, user.member_id) if user.member_id else None
    return {
        "username": user.username,
        "role": user.role,
        "member": None
        if member is None
        else {"id": member.id, "code": member.code, "name": member.name, "kind": member.kind},
    }


def create_member(work: Work, body: MemberCreate) -> Member:
    return create_coded(work, Member, body, "member")


def update_member(work: Work, member_id: int, body: MemberUpdate) -> Member:
    """A member (de)activated: the machines they are trained on get new ACLs."""
    member = get(work.session, Member, member_id, "member")
    before = apply_update(work.audit, member, body)
    machines = acl.machines_of_member(work.session, member.id)
    if member.active and not before["active"]:
        work.acl.check(work.session, machines)
    work.session.commit()
    if before["active"] != member.active:
        work.acl.publish(machines)
    return member
