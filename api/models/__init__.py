"""SQLAlchemy models of the database of record."""

from api.models.base import Base

__all__ = ["Base"]
