"""The app factory: routes, start-up steps, and the background ACL sweep and counter refresh."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from api.db import make_engine, make_sessionmaker, session_scope, wait_for_database
from api.deps import get_site_row
from api.docs_page import add_docs_page
from api.migrate import migrate, seed
from api.routes import auth, badges, bills, devices, machines, me, members, spaces, splits, users
from api.schemas.common import readable
from api.services import acl, counter_cache, downlink
from api.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    Unauthenticated,
    Unavailable,
)
from api.services.mqtt import MqttPublisher, Publisher, PublishError
from api.settings import Settings, get_settings
from timeseries import InfluxClient

log = logging.getLogger(__name__)
WEB = Path(__file__).resolve().parent / "web"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    return JSONResponse(
        {
            "detail": readable(errors, whole="body"),
            "errors": [{k: e.get(k) for k in ("loc", "msg", "type")} for e in errors],
        },
        status_code=422,
    )


# The one place where a service's refusal becomes an HTTP status.
STATUS: dict[type[ServiceError], int] = {
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Invalid: 422,
    Unauthenticated: 401,
    Unavailable: 503,
}


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    status = next((STATUS[k] for k in type(exc).__mro__ if k in STATUS), 400)
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    first = str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": f"conflicts with stored data: {first}"}, status_code=409)


def start_up(settings: Settings) -> Engine:
    """Start-up steps: wait for the database, migrate, seed, raise the
    downlink epoch (a restored database must not reuse a version a node
    holds). Returns the engine."""
    engine = make_engine(settings.database_url)
    wait_for_database(engine)
    migrate(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        seed(session, settings.site, settings.site_timezone)
        downlink.raise_epoch(session)
    return engine


def make_publisher(settings: Settings) -> MqttPublisher:
    """The broker login that publishes ACLs; it connects on its first publish."""
    return MqttPublisher(settings, settings.mqtt_timeout_s)


def make_reader(settings: Settings) -> InfluxClient:
    return InfluxClient(settings)


async def _acl_sweep(app: FastAPI, interval_s: float) -> None:
    """At start (the database may have been restored), then every interval."""
    signer = downlink.signer(app.state.settings)
    while True:
        publisher = app.state.publisher
        try:
            factory = app.state.sessionmaker
            with factory() as session:
                site = get_site_row(session, app.state.settings.site)
            if site is not None and publisher is not None:
                today = acl.site_today(site)
                await asyncio.to_thread(acl.sweep, factory, publisher, signer, site, today)
        except PublishError as exc:
            log.warning("ACL sweep skipped: %s", exc)
        except Exception:  # a sweep must never stop the loop
            log.exception("ACL sweep failed")
        await asyncio.sleep(interval_s)


def _refresh_counters(app: FastAPI) -> None:
    with session_scope(app.state.sessionmaker) as session:
        site = get_site_row(session, app.state.settings.site)
        if site is not None and app.state.influx is not None:
            counter_cache.refresh_site(session, app.state.influx, site)


async def _counter_refresh(app: FastAPI, interval_s: float) -> None:
    """Keeps the counter cache warm, so that month-end splits read SQL, not a year of points."""
    while True:
        try:
            await asyncio.to_thread(_refresh_counters, app)
        except Exception:  # InfluxDB down: try again next time
            log.warning("counter cache refresh failed", exc_info=True)
        await asyncio.sleep(interval_s)


def create_app(
    settings: Settings | None = None,
    publisher: Publisher | None = None,
    influx: InfluxClient | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await asyncio.to_thread(start_up, settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.publisher = publisher or make_publisher(settings)
        app.state.influx = influx or make_reader(settings)
        tasks = [asyncio.create_task(_acl_sweep(app, settings.acl_sweep_s), name="acl-sweep")]
        if settings.counter_refresh_s > 0:
            refresh = _counter_refresh(app, settings.counter_refresh_s)
            tasks.append(asyncio.create_task(refresh, name="counter-refresh"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if publisher is None:
                app.state.publisher.close()
            if influx is None:
                app.state.influx.close()
            engine.dispose()

    app = FastAPI(title="workshop-monitor api", lifespan=lifespan, docs_url=None, redoc_url=None)
    add_docs_page(app)
    app.state.settings = settings
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(ServiceError, _service_error)
    for module in (auth, users, members, spaces, devices, machines, badges, bills, splits, me):
        app.include_router(module.router)
    # The alerts package adds its router here when it is installed alongside.
    if importlib.util.find_spec("api.routes.alerts") is not None:
        app.include_router(importlib.import_module("api.routes.alerts").router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app
