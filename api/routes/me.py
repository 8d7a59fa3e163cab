"""What a logged-in member sees of their own: record, sessions, statements; and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import CurrentUser, IdQuery, InfluxDep, SessionDep, SiteDep, Staff
from api.schemas.machines import SessionPublic
from api.services import audit, members, statements, usage

router = APIRouter(tags=["me"])


@router.get("/sessions", response_model=list[SessionPublic])
def list_sessions(
    user: CurrentUser,
    session: SessionDep,
    site: SiteDep,
    influx: InfluxDep,
    member_id: IdQuery = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[SessionPublic]:
    return usage.list_sessions(session, influx, site, user, member_id, start, end)


@router.get("/me")
def me(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return members.profile(session, user)


@router.get("/me/statements")
def my_statements(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """The newest split of each bill, with this member's statement; held splits are
    not shown until the treasurer runs a split that is not held."""
    return statements.my_statements(session, user)


@router.get("/audit")
def audit_log(
    _: Staff, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    return audit.recent(session, limit)
