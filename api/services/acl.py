"""Who may use each machine, published as the machine node's retained ACL.

The allow-list is derived from SQL (active badges of members with a valid
training); the node decides locally (ARCHITECTURE principle 3). Each ACL is
signed with the node's key and carries a version that only grows
(api/services/downlink.py); a sweep compares what the broker holds with the
database and republishes on any difference (expiries, failed or crossed
publishes, a restored database)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.models import Badge, Device, Machine, Member, Site, Training
from api.services.downlink import Signer, next_version
from api.services.errors import Conflict, Unavailable
from api.services.mqtt import Publisher, PublishError
from protocol import wire

log = logging.getLogger(__name__)


class AclTooLarge(ValueError):
    """A machine's allow-list would hold more badges than its node can
    (protocol.wire.MAX_ACL_BADGES, what fits in the node's RAM)."""


def check_fits(session: Session, machine_ids: Iterable[int], today: date) -> None:
    """Before committing a change that may lengthen allow-lists."""
    session.flush()
    for machine_id in sorted(set(machine_ids)):
        count = len(allow_list(session, machine_id, today))
        if count > wire.MAX_ACL_BADGES:
            raise AclTooLarge(
                f"machine {machine_id} would allow {count} badges; a machine node holds at most "
                f"{wire.MAX_ACL_BADGES} (the ACL limit that fits in its RAM)"
            )


def site_today(site: Site) -> date:
    """Trainings expire by the site's calendar, not the server's."""
    return datetime.now(ZoneInfo(site.timezone)).date()


def allow_list(session: Session, machine_id: int, today: date) -> list[str]:
    rows = session.scalars(
        select(Badge.hash)
        .join(Member, Member.id == Badge.member_id)
        .join(Training, Training.member_id == Member.id)
        .where(
            Training.machine_id == machine_id,
            Training.revoked_at.is_(None),
            or_(Training.expires_on.is_(None), Training.expires_on >= today),
            Badge.revoked_at.is_(None),
            Member.active.is_(True),
        )
        .distinct()
    )
    return sorted(rows)


def acl_topic(session: Session, machine: Machine) -> tuple[str, str] | None:
    if machine.device_id is None:
        return None
    device = session.get(Device, machine.device_id)
    site = session.get(Site, machine.site_id)
    if device is None or site is None:
        return None
    return device.name, wire.topic(site.name, device.name, "acl")


def _built(
    session: Session, signer: Signer, machine_id: int, today: date, above: int
) -> tuple[str, bytes] | None:
    """Inside the transaction: the machine's next version and its signed ACL."""
    machine = session.get(Machine, machine_id)
    if machine is None or machine.device_id is None:
        return None
    device = session.get(Device, machine.device_id)
    site = session.get(Site, machine.site_id)
    if device is None or site is None:
        return None
    version = next_version(session, device.id, above)  # the lock: read the list after it
    allow = allow_list(session, machine_id, today)
    if len(allow) > wire.MAX_ACL_BADGES:
        raise AclTooLarge(
            f"machine {machine_id}: {len(allow)} badges, limit "
            f"{wire.MAX_ACL_BADGES}; not published"
        )
    machine.acl_version = version
    payload = signer.seal(site.name, device.name, "acl", wire.acl(version, allow))
    return wire.topic(site.name, device.name, "acl"), payload


def publish_machine(
    factory: sessionmaker[Session],
    publisher: Publisher,
    signer: Signer,
    machine_id: int,
    today: date,
    *,
    above: int = -1,
) -> bool:
    """Give the machine's ACL the next version (committed), then publish it;
    True when the broker confirmed it. A failed publish leaves the database
    ahead of the broker, which the sweep sees and repairs."""
    with factory() as session, session.begin():
        built = _built(session, signer, machine_id, today, above)
    if built is None:
        return False
    publisher.publish_retained(*built)
    return True


def clear_device(
    factory: sessionmaker[Session],
    publisher: Publisher,
    signer: Signer,
    device_id: int,
    *,
    above: int = -1,
) -> None:
    """A device that serves no machine (any more) gets an empty allow-list."""
    with factory() as session, session.begin():
        device = session.get(Device, device_id)
        site = session.get(Site, device.site_id) if device else None
        if device is None or site is None:
            return
        version = next_version(session, device.id, above)
        payload = signer.seal(site.name, device.name, "acl", wire.acl(version, []))
    publisher.publish_retained(wire.topic(site.name, device.name, "acl"), payload)


def publish_many(
    factory: sessionmaker[Session],
    publisher: Publisher | None,
    signer: Signer,
    machine_ids: Iterable[int],
    today: date,
) -> list[int]:
    """After a committed change: publish each affected machine; failures are
    logged and left to the sweep. Returns the failed ids."""
    failed: list[int] = []
    if publisher is None:
        return list(machine_ids)
    for machine_id in sorted(set(machine_ids)):
        try:
            publish_machine(factory, publisher, signer, machine_id, today)
        except (PublishError, AclTooLarge) as exc:
            log.warning("ACL of machine %s not published: %s", machine_id, exc)
            failed.append(machine_id)
    return failed


Expected = tuple[Device, Machine | None, list[str]]


def _expected(session: Session, site: Site, today: date) -> list[Expected]:
    """What the database says each machine node must hold: its machine's
    list, or an empty one for a node that serves no machine. A retired device
    has no broker login: nothing of it is compared or republished."""
    rows = session.execute(
        select(Device, Machine)
        .outerjoin(Machine, Machine.device_id == Device.id)
        .where(Device.site_id == site.id, Device.role == "machine", Device.revoked_at.is_(None))
        .order_by(Device.name)
    ).all()
    return [
        (device, machine, allow_list(session, machine.id, today) if machine else [])
        for device, machine in rows
    ]


def _held(
    signer: Signer, site: str, device: str, payload: bytes | None
) -> dict[str, Any] | None:
    """The ACL the broker holds for a node, if it is one of ours (MAC and form)."""
    if payload is None:
        return None
    try:
        return signer.opened(site, device, "acl", payload)
    except wire.ProtocolError:
        return None


def sweep(
    factory: sessionmaker[Session], publisher: Publisher, signer: Signer, site: Site, today: date
) -> list[str]:
    """Compare what the broker holds (the retained ACL of every machine node)
    with what the database says, and republish on any difference: a list
    changed since (a training expired overnight), a publish that failed or
    was overtaken by an older one, a message not signed with the node's key,
    a version other than the database's last. The new version passes the
    one held, so a node that has it takes the repair. Returns the devices
    republished."""
    held = publisher.retained(wire.topic_filter(site.name, "acl"))
    with factory() as session:
        expected = _expected(session, site, today)
    published = []
    for device, machine, allow in expected:
        topic = wire.topic(site.name, device.name, "acl")
        msg = _held(signer, site.name, device.name, held.get(topic))
        version = machine.acl_version if machine is not None else None
        if msg is not None and msg["allow"] == allow and not msg.get("master") and (
            version is None or msg["ver"] == version
        ):
            continue
        above = msg["ver"] if msg is not None else -1
        try:
            if machine is not None:
                publish_machine(factory, publisher, signer, machine.id, today, above=above)
            else:
                clear_device(factory, publisher, signer, device.id, above=above)
            published.append(device.name)
        except (PublishError, AclTooLarge) as exc:
            log.warning("ACL sweep: %s not published: %s", device.name, exc)
    return published


def machines_of_member(session: Session, member_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Training.machine_id).where(
                Training.member_id == member_id, Training.revoked_at.is_(None)
            )
        )
    )


class AclPush:
    """Republishes the allow-lists of machines after a committed change that may alter them."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        publisher: Publisher | None,
        site: Site,
        signer: Signer,
    ) -> None:
        self.factory = factory
        self.publisher = publisher
        self.site = site
        self.signer = signer

    def today(self) -> date:
        return site_today(self.site)

    def publish(self, machine_ids: Iterable[int]) -> list[int]:
        """Returns the machines whose ACL the broker did not take (left to the sweep)."""
        return publish_many(self.factory, self.publisher, self.signer, machine_ids, self.today())

    def check(self, session: Session, machine_ids: Iterable[int]) -> None:
        """Before the commit: a machine's allow-list must fit in its node."""
        try:
            check_fits(session, machine_ids, self.today())
        except AclTooLarge as exc:
            raise Conflict(str(exc)) from exc

    def move(self, machine_id: int, old_device_id: int | None) -> None:
        """A machine moved to another device (or none): the old device gets an
        empty list, the new one the machine's list."""
        if old_device_id is not None and self.publisher is not None:
            try:
                clear_device(self.factory, self.publisher, self.signer, old_device_id)
            except PublishError as exc:
                log.warning("old device %s keeps its ACL until the sweep: %s", old_device_id, exc)
        self.publish([machine_id])

    def publish_site(self) -> int:
        """Republish every machine of the site; returns how many."""
        with self.factory() as session:
            ids = list(session.scalars(select(Machine.id).where(Machine.site_id == self.site.id)))
        failed = self.publish(ids)
        if failed:
            raise Unavailable(f"ACL of machine(s) {failed} not published (broker unreachable?)")
        return len(ids)
