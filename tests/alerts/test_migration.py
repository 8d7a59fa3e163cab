"""The alerts' own Alembic branch creates the alert tables exactly as
alerts.models declares them; and a database made by the api's initial
revision as it was when it created the alert tables ends, once upgraded, at
the same schema as a fresh database (its alerts kept). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.sql import ClauseElement

from alerts.models import Alert, Base
from api.migrate import alembic_config, migrate
from devservers import PostgreSQL

TABLES = {"alerts", "alert_deliveries"}
LEGACY = Path(__file__).resolve().parent / "legacy"


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes an empty database by name on the backend; returns its URL."""
    if request.param == "sqlite":
        yield lambda name: f"sqlite:///{tmp_path / name}.db"
        return
    server = PostgreSQL(tmp_path / "pg")
    server.start()

    def make(name: str) -> str:
        with psycopg.connect(host=server.host, port=server.port, user=server.user,
                             password=server.password, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return server.url.rsplit("/", 1)[0] + "/" + name

    try:
        yield make
    finally:
        server.close()


def test_migrated_schema_matches_the_models(new_database: Callable[[str], str]) -> None:
    engine = create_engine(new_database("fresh"))
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


def plain(found: Any) -> Any:
    """Reflected facts as comparable values (a partial index's WHERE as its SQL)."""
    if isinstance(found, dict):
        return {key: plain(value) for key, value in found.items()}
    if isinstance(found, list | tuple):
        return [plain(value) for value in found]
    if isinstance(found, ClauseElement):
        return str(found)
    return found


def schema(engine: Engine) -> dict[str, Any]:
    """Every table with its columns, keys, indexes and constraints, and the
    revisions the database is stamped with."""
    found = inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(found.get_table_names()):
        tables[name] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                        for c in found.get_columns(name)],
            "primary_key": plain(found.get_pk_constraint(name)),
            "foreign_keys": sorted(map(repr, plain(found.get_foreign_keys(name)))),
            "indexes": sorted(map(repr, plain(found.get_indexes(name)))),
            "unique": sorted(map(repr, plain(found.get_unique_constraints(name)))),
            "checks": sorted(map(repr, plain(found.get_check_constraints(name)))),
        }
    with engine.connect() as connection:
        stamped = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    return {"tables": tables, "revisions": stamped}


def legacy_initial(engine: Engine) -> None:
    """The database as the api's initial revision made it before alerts/migrations."""
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.set_main_option("version_locations", str(LEGACY))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")


def test_a_database_made_before_the_alerts_branch_upgrades_to_the_fresh_schema(
    new_database: Callable[[str], str],
) -> None:
    fresh = create_engine(new_database("fresh"))
    legacy = create_engine(new_database("legacy"))
    try:
        legacy_initial(legacy)
        assert set(inspect(legacy).get_table_names()) >= TABLES
        now = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
        with legacy.begin() as connection:
            connection.execute(Alert.__table__.insert().values(
                dedupe_key="heating:node3", kind="heating", site="mf1", device="node3",
                subject="", severity="critical", state="firing", summary="burner out",
                evidence=[], latest_evidence=[], details={}, occurrences=1,
                fired_at=now, last_seen_at=now,
            ))
        migrate(fresh)
        migrate(legacy)
        assert schema(legacy) == schema(fresh)
        heads = ScriptDirectory.from_config(alembic_config(str(fresh.url))).get_heads()
        assert schema(fresh)["revisions"] == set(heads)
        assert "alerts_0001" in heads
        with legacy.connect() as connection:
            assert list(connection.scalars(select(Alert.__table__.c.summary))) == ["burner out"]
        migrate(legacy)  # start-up is repeatable
        assert schema(legacy) == schema(fresh)
    finally:
        fresh.dispose()
        legacy.dispose()
