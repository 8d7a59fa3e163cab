"""The Alembic branches (the api's and the alerts') build exactly the schema the
models declare, and start-up is repeatable (migrate + seed twice changes nothing)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from api.db import make_engine, make_sessionmaker, session_scope
from api.migrate import METADATA, migrate, seed
from api.models import Site


def test_migrations_match_models_and_start_up_is_repeatable(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        for _ in range(2):
            migrate(engine)
            with session_scope(make_sessionmaker(engine)) as session:
                seed(session, "ws1")
        tables = set(inspect(engine).get_table_names())
        assert {t.name for m in METADATA for t in m.sorted_tables} - tables == set()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, list(METADATA)) == []  # type: ignore[arg-type]
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Site)) == 1
    finally:
        engine.dispose()
