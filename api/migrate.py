"""Start-up steps 2 and 3: migrate the schema to the newest revision, then seed.

The database holds the api's tables and the alerts' (the alerts service
shares it). Each package keeps its own Alembic branch: `api/migrations/versions`
and `alerts/migrations` (label `alerts`); both are upgraded here ("heads")."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, inspect, make_url, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import alerts.models
import api.models
from api.db import make_engine
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


def missing_site(url: str, site_name: str) -> str:
    """Why `url` is not an api database serving `site_name` ("" when it is),
    without creating anything: a tool aimed at the wrong place must not make a
    new empty database there."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database)).resolve()
        if not path.is_file():
            return f"there is no database file {path}"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(Site.__tablename__):
                return f"{shown} holds no api tables"
            names = list(connection.scalars(select(Site.name).order_by(Site.name)))
    except SQLAlchemyError as exc:
        return f"cannot open {shown}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    if site_name not in names:
        sites = ", ".join(names) or "none"
        return f"{shown} has no site {site_name!r} (its sites: {sites}; set API_SITE)"
    return ""
