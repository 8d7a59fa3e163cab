"""Alembic environment: the api's tables and the alerts' (see api/migrate.py)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import engine_from_config, pool

from api.migrate import METADATA

config = context.config
target_metadata = list(METADATA)


def render_item(kind: str, obj: Any, autogen: AutogenContext) -> Literal[False]:
    """A project column type (api.models.types) brings its import into the new
    revision: only the branches that use one import it."""
    module = type(obj).__module__
    if kind == "type" and not module.startswith("sqlalchemy") and autogen.imports is not None:
        autogen.imports.add(f"import {module}")
    return False  # rendered as usual


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
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
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
