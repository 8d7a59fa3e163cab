"""The api's Alembic history creates the alert tables exactly as alerts.models
declares them (columns, types, indexes, the partial unique index), on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import alerts.models  # noqa: F401 - the tables under test
from api.migrate import migrate
from api.models.base import Base
from devservers import PostgreSQL

TABLES = {"alerts", "alert_deliveries"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrated_schema_matches_the_models(backend: str, tmp_path: Path) -> None:
    server = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        server = PostgreSQL(tmp_path / "pg")
        server.start()
        url = server.url
    engine = create_engine(url)
    try:
        migrate(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(context, Base.metadata)
                     if any(t in repr(d) for t in TABLES)]
        assert diffs == []
        unique = {i["name"]: i for i in inspect(engine).get_indexes("alerts")}
        assert unique["uq_alerts_open_dedupe_key"]["unique"]
    finally:
        engine.dispose()
        if server is not None:
            server.close()
