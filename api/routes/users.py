"""Login accounts (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Admin, IdPath, SessionDep, WorkDep
from api.models import User
from api.schemas.people import UserCreate, UserPublic, UserUpdate
from api.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(_: Admin, session: SessionDep) -> list[User]:
    return users.list_users(session)


@router.post("", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, _: Admin, work: WorkDep) -> User:
    return users.create_user(work, body)


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(user_id: IdPath, body: UserUpdate, _: Admin, work: WorkDep) -> User:
    """Change a login's role, member, password or active flag; a deactivated or
    re-passworded login loses its tokens."""
    return users.update_user(work, user_id, body)
