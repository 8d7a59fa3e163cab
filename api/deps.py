"""Request dependencies as Annotated aliases: database session, current user, roles,
and the Work a changing route hands to its service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.models import Site, User
from api.schemas.common import MAX_ID
from api.services.acl import AclPush
from api.services.audit import Auditor
from api.services.auth import user_of_token
from api.services.broker_logins import DeviceLogins
from api.services.downlink import signer
from api.services.mqtt import Publisher
from api.services.work import Work
from api.settings import Settings
from timeseries import InfluxClient

_bearer = HTTPBearer(auto_error=False)

# Row ids in paths and queries: what the database's integer column can hold.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# The accessors of app.state are async: a sync dependency is a trip through the thread
# pool and back through the event loop, which a flood of requests makes slow.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


def get_session(
    factory: Annotated[sessionmaker[Session], Depends(get_factory)],
) -> Iterator[Session]:
    with factory() as session:
        yield session


async def get_publisher(request: Request) -> Publisher | None:
    publisher: Publisher | None = request.app.state.publisher
    return publisher


async def get_logins(request: Request) -> DeviceLogins:
    logins: DeviceLogins = request.app.state.logins
    return logins


async def get_influx(request: Request) -> InfluxClient | None:
    reader: InfluxClient | None = request.app.state.influx
    return reader


SettingsDep = Annotated[Settings, Depends(get_settings)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
SessionDep = Annotated[Session, Depends(get_session)]
PublisherDep = Annotated[Publisher | None, Depends(get_publisher)]
LoginsDep = Annotated[DeviceLogins, Depends(get_logins)]
InfluxDep = Annotated[InfluxClient | None, Depends(get_influx)]


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    user = None
    if credentials is not None:
        user = user_of_token(session, settings.secret_key, credentials.credentials)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {user.role} may not do this (needs {', '.join(roles)})",
            )
        return user

    return check


STAFF = ("coordinator", "treasurer", "admin")
Staff = Annotated[User, Depends(require_roles(*STAFF))]
Treasurer = Annotated[User, Depends(require_roles("treasurer", "admin"))]
Admin = Annotated[User, Depends(require_roles("admin"))]
# Who may change members, machines, badges and trainings.
Manager = Annotated[User, Depends(require_roles("coordinator", "admin"))]


def get_site_row(session: Session, name: str) -> Site | None:
    return session.scalar(select(Site).where(Site.name == name))


def get_site(session: SessionDep, settings: SettingsDep) -> Site:
    site = get_site_row(session, settings.site)
    if site is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"site {settings.site} not seeded")
    return site


SiteDep = Annotated[Site, Depends(get_site)]


def get_work(
    session: SessionDep,
    site: SiteDep,
    user: CurrentUser,
    factory: FactoryDep,
    publisher: PublisherDep,
    logins: LoginsDep,
    settings: SettingsDep,
) -> Work:
    return Work(
        session,
        site,
        Auditor(session, user.username, user.id),
        AclPush(factory, publisher, site, signer(settings)),
        logins,
    )


WorkDep = Annotated[Work, Depends(get_work)]
