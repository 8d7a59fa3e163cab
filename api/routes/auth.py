"""Log in: username and password for an opaque bearer token."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.models import User
from api.schemas.people import TokenPublic, TokenRequest, UserPublic
from api.services import auth

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic)
def login(body: TokenRequest, session: SessionDep, settings: SettingsDep) -> TokenPublic:
    return auth.login(session, settings.secret_key, settings.token_minutes, body)


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, session: SessionDep) -> None:
    auth.logout(session, user)


@router.get("/me", response_model=UserPublic)
def whoami(user: CurrentUser) -> User:
    return user
