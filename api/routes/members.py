"""Members: companies and persons with a cost centre."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from api.deps import AuditorDep, CurrentUser, Manager, SessionDep, SiteDep, Staff
from api.models import Member
from api.routes.common import AclPushDep, add_row, apply_update, check_code_free, get_or_404
from api.schemas.people import MemberCreate, MemberPublic, MemberUpdate
from api.services import acl

router = APIRouter(prefix="/members", tags=["members"])


@router.get("", response_model=list[MemberPublic])
def list_members(_: Staff, session: SessionDep, site: SiteDep) -> list[Member]:
    return list(
        session.scalars(select(Member).where(Member.site_id == site.id).order_by(Member.code))
    )


@router.get("/{member_id}", response_model=MemberPublic)
def get_member(member_id: int, user: CurrentUser, session: SessionDep) -> Member:
    if user.role == "member" and user.member_id != member_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "members see only their own record")
    return get_or_404(session, Member, member_id, "member")


@router.post("", response_model=MemberPublic, status_code=201)
def create_member(
    body: MemberCreate, _: Manager, session: SessionDep, site: SiteDep, audit: AuditorDep
) -> Member:
    check_code_free(session, Member, site, body.code, "member")
    member = add_row(session, audit, Member(site_id=site.id, **body.model_dump()))
    session.commit()
    return member


@router.patch("/{member_id}", response_model=MemberPublic)
def update_member(
    member_id: int,
    body: MemberUpdate,
    _: Manager,
    session: SessionDep,
    audit: AuditorDep,
    push: AclPushDep,
) -> Member:
    member = get_or_404(session, Member, member_id, "member")
    before = apply_update(audit, member, body)
    machines = acl.machines_of_member(session, member.id)
    if member.active and not before["active"]:
        push.check(session, machines)
    session.commit()
    if before["active"] != member.active:
        push.publish(machines)
    return member
