"""Start-up steps 2 and 3: migrate the schema to the newest revision, then seed.

Other packages may keep their own Alembic branch in `<package>/migrations`
(e.g. `alerts/migrations`, with `depends_on` one of ours); it is picked up here
and upgraded together ("heads")."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.models import Site

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
EXTRA_BRANCHES = ("alerts",)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    locations = [str(MIGRATIONS / "versions")]
    for package in EXTRA_BRANCHES:
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            extra = Path(next(iter(spec.submodule_search_locations))) / "migrations"
            if extra.is_dir():
                locations.append(str(extra))
    config.set_main_option("version_locations", " ".join(locations))
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
