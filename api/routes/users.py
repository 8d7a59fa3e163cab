"""Login accounts (admin only)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import Admin, AuditorDep, SessionDep
from api.models import Member, User
from api.routes.common import conflict, get_or_404
from api.schemas.people import UserCreate, UserPublic
from api.security import hash_password

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(_: Admin, session: SessionDep) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


@router.post("", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, _: Admin, session: SessionDep, audit: AuditorDep) -> User:
    if session.scalar(select(User).where(User.username == body.username)):
        raise conflict(f"username {body.username} is taken")
    if body.member_id is not None:
        get_or_404(session, Member, body.member_id, "member")
    elif body.role == "member":
        raise conflict("a user with role member must be linked to a member (member_id)")
    user = User(
        username=body.username,
        password_hash=hash_password(body.password),
        role=body.role,
        member_id=body.member_id,
    )
    session.add(user)
    audit.created(user)
    session.commit()
    return user
