"""Login accounts."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import ApiToken, Member, User
from api.schemas.people import UserCreate, UserUpdate
from api.security import hash_password
from api.services.audit import snapshot
from api.services.errors import Conflict
from api.services.records import add_row, get
from api.services.work import Work

_NEEDS_MEMBER = "a user with role member must be linked to a member (member_id)"


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(work: Work, body: UserCreate) -> User:
    session = work.session
    if session.scalar(select(User).where(User.username == body.username)):
        raise Conflict(f"username {body.username} is taken")
    if body.member_id is not None:
        get(session, Member, body.member_id, "member")
    elif body.role == "member":
        raise Conflict(_NEEDS_MEMBER)
    user = add_row(
        session,
        work.audit,
        User(
            username=body.username,
            password_hash=hash_password(body.password),
            role=body.role,
            member_id=body.member_id,
        ),
    )
    session.commit()
    return user


def update_user(work: Work, user_id: int, body: UserUpdate) -> User:
    """Change a login's role, member, password or active flag; a deactivated or
    re-passworded login loses its tokens."""
    session = work.session
    user = get(session, User, user_id, "user")
    changes = body.model_dump(exclude_unset=True)
    if changes.get("member_id") is not None:
        get(session, Member, changes["member_id"], "member")
    role = changes.get("role", user.role)
    member_id = changes.get("member_id", user.member_id)
    if role == "member" and member_id is None:
        raise Conflict(_NEEDS_MEMBER)
    before = snapshot(user)
    password = changes.pop("password", None)
    for key, value in changes.items():
        setattr(user, key, value)
    if password is not None:
        user.password_hash = hash_password(password)
    if password is not None or changes.get("active") is False:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    work.audit.updated(user, before)
    session.commit()
    return user
