"""Row helpers the services share: find, insert, update and revoke, each logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Badge, Base, Device, Machine, Member, Site, Training, Unit
from api.schemas.people import MemberCreate
from api.schemas.spaces import UnitCreate
from api.services.audit import Auditor, snapshot
from api.services.errors import Conflict, NotFound
from api.services.work import Work

Row = TypeVar("Row", bound=Base)
Found = TypeVar("Found")  # any mapped class, the alerts' included


def get(session: Session, model: type[Found], row_id: int, what: str) -> Found:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


Coded = TypeVar("Coded", Device, Machine, Member, Unit)


def by_code(session: Session, site: Site, model: type[Coded], code: str, what: str) -> Coded:
    """A row by the code (a device by the name) the admin types."""
    column = getattr(model, "name" if model is Device else "code")
    row = session.scalar(select(model).where(model.site_id == site.id, column == code))
    if row is None:
        raise NotFound(f"no {what} {code!r}")
    return row


def add_row(session: Session, audit: Auditor, row: Row) -> Row:
    """Insert a new row and log its creation, not yet committed."""
    session.add(row)
    audit.created(row)
    return row


def apply_update(audit: Auditor, row: Base, update: BaseModel) -> dict[str, Any]:
    """Set the fields the client sent and log the change; return the row as it was before."""
    before = snapshot(row)
    for key, value in update.model_dump(exclude_unset=True).items():
        setattr(row, key, value)
    audit.updated(row, before)
    return before


def check_code_free(
    session: Session, model: type[Machine | Member | Unit], site: Site, code: str, what: str
) -> None:
    taken = session.scalar(select(model).where(model.site_id == site.id, model.code == code))
    if taken is not None:
        raise Conflict(f"{what} code {code} is taken")


Sited = TypeVar("Sited", Member, Unit)


def create_coded(
    work: Work, model: type[Sited], body: MemberCreate | UnitCreate, what: str
) -> Sited:
    """A member or unit of the work's site, its code checked free, created and logged."""
    check_code_free(work.session, model, work.site, body.code, what)
    row = add_row(work.session, work.audit, model(site_id=work.site.id, **body.model_dump()))
    work.session.commit()
    return row


Revocable = TypeVar("Revocable", Badge, Device, Training)


def revoke(audit: Auditor, row: Revocable, what: str) -> Revocable:
    """Mark a row revoked (kept for the record, never deleted), not yet committed."""
    if row.revoked_at is not None:
        raise Conflict(f"{what} {row.id} was revoked at {row.revoked_at}")
    before = snapshot(row)
    row.revoked_at = datetime.now(UTC)
    audit.updated(row, before)
    return row
