"""Badges: enrolled as keyed hashes of the card UID, revoked, never deleted."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import (
    CurrentUser,
    IdPath,
    IdQuery,
    InfluxDep,
    Manager,
    SessionDep,
    SettingsDep,
    WorkDep,
)
from api.models import Badge
from api.schemas.people import BadgeCreate, BadgePublic, TappedBadgeCreate
from api.services import badges

router = APIRouter(prefix="/badges", tags=["badges"])


@router.get("", response_model=list[BadgePublic])
def list_badges(user: CurrentUser, session: SessionDep, member_id: IdQuery = None) -> list[Badge]:
    return badges.list_badges(session, user, member_id)


@router.post("", response_model=BadgePublic, status_code=201)
def enrol_badge(body: BadgeCreate, _: Manager, work: WorkDep, settings: SettingsDep) -> Badge:
    return badges.enrol_badge(work, body, settings.badge_key)


@router.post("/tapped", response_model=BadgePublic, status_code=201)
def enrol_tapped(body: TappedBadgeCreate, _: Manager, work: WorkDep, influx: InfluxDep) -> Badge:
    """Enrol the card just tapped on a node's reader (refused there, so reported)."""
    return badges.enrol_tapped(work, influx, body)


@router.delete("/{badge_id}", response_model=BadgePublic)
def revoke_badge(badge_id: IdPath, _: Manager, work: WorkDep) -> Badge:
    return badges.revoke_badge(work, badge_id)
