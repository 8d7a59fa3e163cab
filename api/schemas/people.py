from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import Code, DeviceName, Id, Public, Strict

MemberKind = Literal["company", "person"]
Role = Literal["member", "coordinator", "treasurer", "admin"]
BadgeKind = Literal["personal", "company"]


class MemberCreate(Strict):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    kind: MemberKind = "company"
    cost_centre: str = Field(default="", max_length=64)
    email: str = Field(default="", max_length=200)


class MemberUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: MemberKind | None = None
    cost_centre: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class MemberPublic(Public):
    id: int
    code: str
    name: str
    kind: str
    cost_centre: str
    email: str
    active: bool


class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: Role = "member"
    member_id: Id | None = None


class UserPublic(Public):
    id: int
    username: str
    role: str
    member_id: int | None
    active: bool


class TokenRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenPublic(Public):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: str


class BadgeCreate(Strict):
    member_id: Id
    # The card UID as the reader prints it ("04:A2:1B:..."); hashed, then forgotten.
    uid: str = Field(min_length=2, max_length=64, pattern=r"^[0-9A-Fa-f: ]+$")
    kind: BadgeKind = "personal"
    holder: str = Field(default="", max_length=200)


class TappedBadgeCreate(Strict):
    """Enrol the card just tapped on a node: the node refused it and reported its
    hash in a `badge` event; the newest such unknown card is enrolled."""

    member_id: Id
    device: DeviceName
    kind: BadgeKind = "personal"
    holder: str = Field(default="", max_length=200)


class BadgePublic(Public):
    id: int
    member_id: int
    hash: str
    kind: str
    holder: str
    enrolled_at: datetime
    revoked_at: datetime | None


class UserUpdate(Strict):
    password: str | None = Field(default=None, min_length=8, max_length=200)
    role: Role | None = None
    member_id: Id | None = None
    active: bool | None = None
