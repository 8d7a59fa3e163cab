"""Who may use each machine, published as the machine node's retained ACL.

The allow-list is derived from SQL (active badges of members with a valid
training); the node decides locally (ARCHITECTURE principle 3). The
published version only grows, and the digest of what was last published
lets a sweep catch expiries and failed publishes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.models import Badge, Device, Machine, Member, Site, Training
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


def digest(device: str, allow: Iterable[str]) -> str:
    return hashlib.sha256((device + ":" + ",".join(allow)).encode()).hexdigest()


def acl_topic(session: Session, machine: Machine) -> tuple[str, str] | None:
    if machine.device_id is None:
        return None
    device = session.get(Device, machine.device_id)
    site = session.get(Site, machine.site_id)
    if device is None or site is None:
        return None
    return device.name, wire.topic(site.name, device.name, "acl")


def publish_machine(
    factory: sessionmaker[Session],
    publisher: Publisher,
    machine_id: int,
    today: date,
    *,
    only_if_changed: bool = False,
) -> bool:
    """Publish one machine's ACL with the next version; True when the broker
    confirmed it. The version is stored only after the confirmation."""
    with factory() as session, session.begin():
        machine = session.get(Machine, machine_id, with_for_update=True)
        if machine is None:
            return False
        target = acl_topic(session, machine)
        if target is None:
            return False
        device, topic = target
        allow = allow_list(session, machine_id, today)
        if len(allow) > wire.MAX_ACL_BADGES:
            raise AclTooLarge(
                f"machine {machine_id}: {len(allow)} badges, limit "
                f"{wire.MAX_ACL_BADGES}; not published"
            )
        new_digest = digest(device, allow)
        if only_if_changed and new_digest == machine.acl_digest:
            return False
        version = machine.acl_version + 1
        payload = wire.encode("acl", wire.acl(version, allow))
        publisher.publish_retained(topic, payload)
        machine.acl_version = version
        machine.acl_digest = new_digest
        return True


def clear_device(
    factory: sessionmaker[Session], publisher: Publisher, machine_id: int, device_name: str
) -> None:
    """A device that no longer serves this machine gets an empty allow-list."""
    with factory() as session, session.begin():
        machine = session.get(Machine, machine_id, with_for_update=True)
        site = session.get(Site, machine.site_id) if machine else None
        if machine is None or site is None:
            return
        machine.acl_version += 1
        payload = wire.encode("acl", wire.acl(machine.acl_version, []))
        publisher.publish_retained(wire.topic(site.name, device_name, "acl"), payload)


def publish_many(
    factory: sessionmaker[Session],
    publisher: Publisher | None,
    machine_ids: Iterable[int],
    today: date,
) -> list[int]:
    """After a committed change: publish each affected machine; failures are
    logged and left to the sweep (the digest stays stale). Returns the failed ids."""
    failed: list[int] = []
    if publisher is None:
        return list(machine_ids)
    for machine_id in sorted(set(machine_ids)):
        try:
            publish_machine(factory, publisher, machine_id, today)
        except (PublishError, AclTooLarge) as exc:
            log.warning("ACL of machine %s not published: %s", machine_id, exc)
            failed.append(machine_id)
    return failed


def sweep(factory: sessionmaker[Session], publisher: Publisher, today: date) -> list[int]:
    """Republish every machine whose allow-list changed since its last publish
    (training expired overnight, an earlier publish failed). Returns those published."""
    with factory() as session:
        ids = list(session.scalars(select(Machine.id).where(Machine.device_id.is_not(None))))
    published = []
    for machine_id in ids:
        try:
            if publish_machine(factory, publisher, machine_id, today, only_if_changed=True):
                published.append(machine_id)
        except (PublishError, AclTooLarge) as exc:
            log.warning("ACL sweep: machine %s not published: %s", machine_id, exc)
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
        self, factory: sessionmaker[Session], publisher: Publisher | None, site: Site
    ) -> None:
        self.factory = factory
        self.publisher = publisher
        self.site = site

    def today(self) -> date:
        return site_today(self.site)

    def publish(self, machine_ids: Iterable[int]) -> list[int]:
        """Returns the machines whose ACL the broker did not take (left to the sweep)."""
        return publish_many(self.factory, self.publisher, machine_ids, self.today())

    def check(self, session: Session, machine_ids: Iterable[int]) -> None:
        """Before the commit: a machine's allow-list must fit in its node."""
        try:
            check_fits(session, machine_ids, self.today())
        except AclTooLarge as exc:
            raise Conflict(str(exc)) from exc

    def move(self, machine_id: int, old_device: str | None) -> None:
        """A machine moved to another device (or none): the old device gets an
        empty list, the new one the machine's list."""
        if old_device is not None and self.publisher is not None:
            try:
                clear_device(self.factory, self.publisher, machine_id, old_device)
            except PublishError as exc:
                log.warning("old device %s keeps its ACL: %s", old_device, exc)
        self.publish([machine_id])

    def publish_site(self) -> int:
        """Republish every machine of the site; returns how many."""
        with self.factory() as session:
            ids = list(session.scalars(select(Machine.id).where(Machine.site_id == self.site.id)))
        failed = self.publish(ids)
        if failed:
            raise Unavailable(f"ACL of machine(s) {failed} not published (broker unreachable?)")
        return len(ids)
