"""The app factory: routes, start-up steps, and the background ACL sweep and counter refresh."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp

from api.db import make_engine, make_sessionmaker, session_scope, wait_for_database
from api.deps import get_site_row
from api.docs_page import add_docs_page
from api.login_gate import PasswordChecks
from api.middleware import BodyLimit, SecurityHeaders
from api.migrate import migrate, seed
from api.routes import (
    auth,
    badges,
    bills,
    building,
    devices,
    machines,
    me,
    members,
    spaces,
    splits,
    users,
)
from api.schemas.common import readable
from api.security import verify_login
from api.services import acl, counter_cache, downlink
from api.services.broker_logins import BrokerLogins, DeviceLogins, ManualLogins
from api.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    Throttled,
    Unauthenticated,
    Unavailable,
)
from api.services.mqtt import MqttPublisher, Publisher, PublishError
from api.settings import Settings, get_settings
from timeseries import InfluxClient, rollup

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
    Throttled: 429,
    Unavailable: 503,
}


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    status = next((STATUS[k] for k in type(exc).__mro__ if k in STATUS), 400)
    headers = {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


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
    verify_login("", None)  # makes the unknown-user hash now, not during the first login
    return engine


def make_publisher(settings: Settings) -> MqttPublisher:
    """The broker login that publishes ACLs; it connects on its first publish."""
    return MqttPublisher(settings, settings.mqtt_timeout_s)


def make_logins(settings: Settings) -> DeviceLogins:
    """Where device logins go (API_DEVICE_LOGINS); connects on first use."""
    if settings.device_logins == "dynsec":
        return BrokerLogins(settings, settings.mqtt_timeout_s)
    return ManualLogins()


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


async def _rollups(app: FastAPI, interval_s: float, raw_days: int) -> None:
    """Rollup policies made (and history rolled up) once, then kept up to date."""
    reader = app.state.influx
    ready = False
    # Late writes noted since this moment are rolled up (the markers carry the
    # gateway's clock: an hour's margin for the two clocks and a pass's length).
    late_since_ms = int(time.time() * 1000 - rollup.LOOKBACK.total_seconds() * 1000)
    while True:
        started_ms = int(time.time() * 1000)
        try:
            if not ready:
                await asyncio.to_thread(rollup.bootstrap, reader, raw_days)
                ready = True
            await asyncio.to_thread(rollup.run, reader, None, late_since_ms)
            late_since_ms = started_ms - 3_600_000
        except Exception:  # InfluxDB down: try again next time
            log.warning("rollup pass failed", exc_info=True)
        await asyncio.sleep(interval_s)


class _App(FastAPI):
    max_body_bytes = 1024 * 1024

    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's error middleware, so that even a 500 carries the headers
        # and no body over the limit reaches any part of the app.
        return SecurityHeaders(BodyLimit(super().build_middleware_stack(), self.max_body_bytes))


def create_app(
    settings: Settings | None = None,
    publisher: Publisher | None = None,
    influx: InfluxClient | None = None,
    logins: DeviceLogins | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await asyncio.to_thread(start_up, settings)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.publisher = publisher or make_publisher(settings)
        app.state.influx = influx or make_reader(settings)
        app.state.logins = logins or make_logins(settings)
        app.state.password_checks = PasswordChecks(settings.login_memory_mib * 2**20)
        tasks = [asyncio.create_task(_acl_sweep(app, settings.acl_sweep_s), name="acl-sweep")]
        if settings.counter_refresh_s > 0:
            refresh = _counter_refresh(app, settings.counter_refresh_s)
            tasks.append(asyncio.create_task(refresh, name="counter-refresh"))
        if settings.rollup_s > 0:
            rollups = _rollups(app, settings.rollup_s, settings.influx_raw_days)
            tasks.append(asyncio.create_task(rollups, name="rollups"))
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
            if logins is None:
                app.state.logins.close()
            engine.dispose()

    app = _App(title="workshop-monitor api", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.max_body_bytes = settings.max_body_bytes
    add_docs_page(app)
    app.state.settings = settings
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(ServiceError, _service_error)
    routers = (auth, users, members, spaces, devices, machines, badges, bills, splits, me, building)
    for module in routers:
        app.include_router(module.router)
    # The alerts package adds its router here when it is installed alongside.
    if importlib.util.find_spec("api.routes.alerts") is not None:
        app.include_router(importlib.import_module("api.routes.alerts").router)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    return app
