"""Small helpers the route modules share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from api.deps import FactoryDep, PublisherDep, SiteDep
from api.models import Badge, Base, Machine, Member, Site, Training, Unit
from api.services import acl
from api.services.audit import Auditor, snapshot
from api.services.mqtt import Publisher

Row = TypeVar("Row", bound=Base)
# Any mapped row: the api's tables and the alerts' (on their own declarative base).
AnyRow = TypeVar("AnyRow", bound=DeclarativeBase)


def get_or_404(session: Session, model: type[AnyRow], row_id: int, what: str) -> AnyRow:
    row = session.get(model, row_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {row_id} not found")
    return row


def unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, message)


def apply_update(audit: Auditor, row: Base, update: BaseModel) -> dict[str, Any]:
    """Set the fields the client sent and log the change; return the row as it was before."""
    before = snapshot(row)
    for key, value in update.model_dump(exclude_unset=True).items():
        setattr(row, key, value)
    audit.updated(row, before)
    return before


def site_today(site: Site) -> date:
    return datetime.now(ZoneInfo(site.timezone)).date()


def add_row(session: Session, audit: Auditor, row: Row) -> Row:
    """Insert a new row and log its creation, not yet committed."""
    session.add(row)
    audit.created(row)
    return row


def check_code_free(
    session: Session, model: type[Machine | Member | Unit], site: Site, code: str, what: str
) -> None:
    taken = session.scalar(select(model).where(model.site_id == site.id, model.code == code))
    if taken is not None:
        raise conflict(f"{what} code {code} is taken")


Revocable = TypeVar("Revocable", Badge, Training)


def revoke(audit: Auditor, row: Revocable, what: str) -> Revocable:
    """Mark a row revoked (kept for the record, never deleted), not yet committed."""
    if row.revoked_at is not None:
        raise conflict(f"{what} {row.id} was revoked at {row.revoked_at}")
    before = snapshot(row)
    row.revoked_at = datetime.now(UTC)
    audit.updated(row, before)
    return row


class AclPush:
    """Republishes the allow-lists of machines after a change that may alter them."""

    def __init__(
        self, factory: sessionmaker[Session], publisher: Publisher | None, site: Site
    ) -> None:
        self.factory = factory
        self.publisher = publisher
        self.site = site

    def today(self) -> date:
        return site_today(self.site)

    def publish(self, machine_ids: Iterable[int]) -> None:
        acl.publish_many(self.factory, self.publisher, machine_ids, self.today())


def get_acl_push(factory: FactoryDep, publisher: PublisherDep, site: SiteDep) -> AclPush:
    return AclPush(factory, publisher, site)


AclPushDep = Annotated[AclPush, Depends(get_acl_push)]
