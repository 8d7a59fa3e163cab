"""Small helpers the route modules share."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import HTTPException, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.models import Base, Site
from api.services.audit import snapshot

Row = TypeVar("Row", bound=Base)


def get_or_404(session: Session, model: type[Row], row_id: int, what: str) -> Row:
    row = session.get(model, row_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {row_id} not found")
    return row


def unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


def conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, message)


def apply_update(row: Base, update: BaseModel) -> dict[str, Any]:
    """Set the fields the client sent; return the row as it was before."""
    before = snapshot(row)
    for key, value in update.model_dump(exclude_unset=True).items():
        setattr(row, key, value)
    return before


def site_today(site: Site) -> date:
    return datetime.now(ZoneInfo(site.timezone)).date()
