"""Members: companies and persons with a cost centre."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, IdPath, Manager, SessionDep, SiteDep, Staff, WorkDep
from api.models import Member
from api.schemas.people import MemberCreate, MemberPublic, MemberUpdate
from api.services import members

router = APIRouter(prefix="/members", tags=["members"])


@router.get("", response_model=list[MemberPublic])
def list_members(_: Staff, session: SessionDep, site: SiteDep) -> list[Member]:
    return members.list_members(session, site)


@router.get("/{member_id}", response_model=MemberPublic)
def get_member(member_id: IdPath, user: CurrentUser, session: SessionDep) -> Member:
    return members.get_member(session, user, member_id)


@router.post("", response_model=MemberPublic, status_code=201)
def create_member(body: MemberCreate, _: Manager, work: WorkDep) -> Member:
    return members.create_member(work, body)


@router.patch("/{member_id}", response_model=MemberPublic)
def update_member(member_id: IdPath, body: MemberUpdate, _: Manager, work: WorkDep) -> Member:
    return members.update_member(work, member_id, body)
