"""Logins: a username and password for an opaque bearer token, stored only as its HMAC."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import ApiToken, User
from api.schemas.people import TokenPublic, TokenRequest
from api.security import new_token, token_digest, verify_login
from api.services import throttle
from api.services.audit import Auditor
from api.services.errors import Throttled, Unauthenticated


def login(
    session: Session,
    secret_key: str,
    minutes: int,
    body: TokenRequest,
    address: str,
    policy: throttle.Policy,
) -> TokenPublic:
    """A token for the right password; throttled per username and per client address.
    Unknown, inactive and known users cost the same scrypt check, so the time of the
    answer does not tell which usernames exist."""
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    keys = policy.keys(body.username, address)
    wait = throttle.wait_s(session, keys, now_ms)
    if wait > 0:
        raise Throttled(
            f"too many failed logins: try again in {math.ceil(wait)} s", retry_after_s=wait
        )
    user = session.scalar(select(User).where(User.username == body.username))
    right = verify_login(body.password, None if user is None else user.password_hash)
    if user is None or not user.active or not right:
        throttle.record_failure(session, keys, now_ms)
        session.commit()
        throttle.purge(session, now_ms)
        session.commit()
        raise Unauthenticated("wrong username or password")
    throttle.forget_user(session, user.username)
    # Expired tokens of this user go when they log in again.
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at < now))
    token = new_token()
    expires = now + timedelta(minutes=minutes)
    session.add(
        ApiToken(user_id=user.id, token_hash=token_digest(token, secret_key), expires_at=expires)
    )
    Auditor(session, user.username, user.id).record(
        "login", "api_token", None, after={"user_id": user.id}
    )
    session.commit()
    return TokenPublic(access_token=token, expires_at=expires, role=user.role)


def logout(session: Session, user: User) -> None:
    """Drops every token of the user."""
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        session.delete(row)
    Auditor(session, user.username, user.id).record("logout", "api_token", None)
    session.commit()


def user_of_token(session: Session, secret_key: str, token: str) -> User | None:
    """The active user holding this unexpired token, or None."""
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_digest(token, secret_key))
    )
    if row is None or _aware(row.expires_at) < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
