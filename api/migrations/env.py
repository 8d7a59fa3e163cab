"""Alembic environment: every table on api.models.Base, plus alerts.models if installed."""

from __future__ import annotations

import importlib
import importlib.util

from alembic import context
from sqlalchemy import engine_from_config, pool

import api.models
from api.models import Base

if importlib.util.find_spec("alerts") and importlib.util.find_spec("alerts.models"):
    importlib.import_module("alerts.models")

_ = api.models  # imported for its side effect: the tables join Base.metadata
config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # Batch mode lets ALTER TABLE work on SQLite (it rebuilds the table).
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
