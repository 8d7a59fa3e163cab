"""Log in: username and password for an opaque bearer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import delete, select

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.models import ApiToken, User
from api.schemas.people import TokenPublic, TokenRequest, UserPublic
from api.security import new_token, token_digest, verify_password
from api.services.audit import Auditor

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def login(body: TokenRequest, session: SessionDep, settings: SettingsDep) -> TokenPublic:
    user = session.scalar(select(User).where(User.username == body.username))
    if user is None or not user.active or not verify_password(body.password, user.password_hash):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    now = datetime.now(UTC)
    # Expired tokens of this user go when they log in again.
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at < now))
    token = new_token()
    expires = now + timedelta(minutes=settings.token_minutes)
    row = ApiToken(
        user_id=user.id, token_hash=token_digest(token, settings.secret_key), expires_at=expires
    )
    session.add(row)
    Auditor(session, user.username, user.id).record(
        "login", "api_token", None, after={"user_id": user.id}
    )
    session.commit()
    return TokenPublic(access_token=token, expires_at=expires, role=user.role)


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, session: SessionDep) -> None:
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        session.delete(row)
    Auditor(session, user.username, user.id).record("logout", "api_token", None)
    session.commit()


@router.get("/me", response_model=UserPublic)
def whoami(user: CurrentUser) -> User:
    return user
