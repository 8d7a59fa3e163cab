"""Signed, ordered messages to the nodes (ACLs and commands).

Each node's key is derived from one master secret (`API_DOWNLINK_KEY`) and
the node's site and name (protocol.sign.device_key): nothing per device is
stored in SQL, and the provisioning writes the key into the node's
config.json. Versions only grow per node: a counter per device, raised by one
inside the transaction that builds the message (two overlapping publishes
never share a number), and never below the site's epoch, which each start of
the api raises to at least the Unix time in milliseconds (a restored database
starts above every version it handed out before). The message goes out after
the commit; the ACL sweep repairs any publish that failed or crossed another."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from api.models import Device, Site
from protocol import downlink, sign, wire

if TYPE_CHECKING:
    from api.settings import Settings


class Signer:
    """Seals messages with each node's key, derived when needed."""

    def __init__(self, master: str) -> None:
        self._master = master

    def key(self, site: str, device: str) -> bytes:
        return sign.device_key(self._master, site, device)

    def seal(self, site: str, device: str, channel: str, msg: dict[str, Any]) -> bytes:
        return sign.seal(channel, self.key(site, device), msg)

    def opened(self, site: str, device: str, channel: str, payload: bytes) -> dict[str, Any]:
        """A message read back from the broker -> its content, or
        wire.ProtocolError when its MAC or form is wrong (someone else's)."""
        downlink.check(channel, self.key(site, device), payload)
        return wire.decode(channel, payload)


def signer(settings: Settings) -> Signer:
    return Signer(settings.downlink_key)


def device_key(settings: Settings, site: str, device: str) -> str:
    """The `downlink_key` of a node's config.json (64 hex digits): what its
    provisioning writes, next to its broker password and the badge key."""
    return signer(settings).key(site, device).hex()


def next_version(session: Session, device_id: int, above: int = -1) -> int:
    """The next version for one node, inside the caller's transaction. The
    increment locks the device row (PostgreSQL) or the database (SQLite), so
    a concurrent allocation for this node waits for the commit and takes the
    number after; the epoch is read after that lock. `above`: a version seen
    on the broker that the new one must pass."""
    bumped = session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(downlink_version=Device.downlink_version + 1)
        .returning(Device.downlink_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    epoch = session.scalar(
        select(Site.downlink_epoch).join(Device, Device.site_id == Site.id).where(
            Device.id == device_id
        )
    )
    version = max(bumped, sign.first_version(epoch or 0), above + 1)
    if version != bumped:
        session.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(downlink_version=version)
            .execution_options(synchronize_session=False)
        )
    return version


def raise_epoch(session: Session, now_ms: int | None = None) -> None:
    """Start-up: every site's epoch to at least the Unix time in ms, and
    above its stored value (a clock set back still raises it)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    session.execute(
        update(Site).values(
            downlink_epoch=case(
                (Site.downlink_epoch + 1 > now, Site.downlink_epoch + 1), else_=now
            )
        )
    )
