"""Start-up steps 2 and 3: migrate the schema to the newest revision, then seed.

The database holds the api's tables and the alerts' (the alerts service
shares it). Each package keeps its own Alembic branch: `api/migrations/versions`
and `alerts/migrations` (label `alerts`); both are upgraded here ("heads")."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session

import alerts.models
import api.models
from api.models import Site

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BRANCHES = (MIGRATIONS / "versions", Path(alerts.models.__file__).resolve().parent / "migrations")
# What the branches build, for autogenerate and the schema tests.
METADATA: tuple[MetaData, ...] = (api.models.Base.metadata, alerts.models.Base.metadata)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_locations", " ".join(str(path) for path in BRANCHES))
    config.set_main_option("path_separator", "space")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


def seed(session: Session, site_name: str, timezone: str = "UTC") -> Site:
    """The site this api serves exists, in the configured time zone (idempotent)."""
    site = session.scalar(select(Site).where(Site.name == site_name))
    if site is None:
        site = Site(name=site_name, title=site_name, timezone=timezone)
        session.add(site)
    site.timezone = timezone
    session.flush()
    return site
