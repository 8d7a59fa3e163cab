"""Log in: username and password for an opaque bearer token."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session, sessionmaker

from api.deps import CurrentUser, SessionDep
from api.login_gate import PasswordChecks
from api.models import User
from api.schemas.people import TokenPublic, TokenRequest, UserPublic
from api.services import auth, throttle
from api.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"])


def _policy(settings: Settings) -> throttle.Policy:
    first, most = settings.login_first_delay_s, settings.login_max_delay_s
    return throttle.Policy(
        throttle.Schedule(settings.login_user_free_failures, first, most),
        throttle.Schedule(settings.login_address_free_failures, first, most),
    )


@router.post(
    "/token",
    response_model=TokenPublic,
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "too many failed logins for this user or address (Retry-After)"},
        503: {"description": "too many password checks at once (Retry-After)"},
    },
)
async def login(body: TokenRequest, request: Request) -> TokenPublic:
    # async, with no sync dependencies: a storm of logins waits here, in the event loop,
    # not in the thread pool that every other route needs.
    state = request.app.state
    settings: Settings = state.settings
    factory: sessionmaker[Session] = state.sessionmaker
    checks: PasswordChecks = state.password_checks
    address = request.client.host if request.client else "unknown"

    def check() -> TokenPublic:
        with factory() as session:
            return auth.login(
                session,
                settings.secret_key,
                settings.token_minutes,
                body,
                address,
                _policy(settings),
            )

    async with checks.slot():
        return await asyncio.to_thread(check)


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, session: SessionDep) -> None:
    auth.logout(session, user)


@router.get("/me", response_model=UserPublic)
def whoami(user: CurrentUser) -> User:
    return user
