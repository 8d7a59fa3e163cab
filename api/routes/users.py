"""Login accounts (admin only)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import delete, select

from api.deps import Admin, AuditorDep, SessionDep
from api.models import ApiToken, Member, User
from api.routes.common import conflict, get_or_404
from api.schemas.people import UserCreate, UserPublic, UserUpdate
from api.security import hash_password
from api.services.audit import snapshot

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


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(
    user_id: int, body: UserUpdate, _: Admin, session: SessionDep, audit: AuditorDep
) -> User:
    """Change a login's role, member, password or active flag; a deactivated or
    re-passworded login loses its tokens."""
    user = get_or_404(session, User, user_id, "user")
    changes = body.model_dump(exclude_unset=True)
    if changes.get("member_id") is not None:
        get_or_404(session, Member, changes["member_id"], "member")
    role = changes.get("role", user.role)
    member_id = changes.get("member_id", user.member_id)
    if role == "member" and member_id is None:
        raise conflict("a user with role member must be linked to a member (member_id)")
    before = snapshot(user)
    password = changes.pop("password", None)
    for key, value in changes.items():
        setattr(user, key, value)
    if password is not None:
        user.password_hash = hash_password(password)
    if password is not None or changes.get("active") is False:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    audit.updated(user, before)
    session.commit()
    return user
