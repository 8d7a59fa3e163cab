"""Machines, who is trained on them, and their published ACL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Device, Machine, Member, Site, Training, User
from api.schemas.machines import AclPublic, MachineCreate, MachineUpdate, TrainingCreate
from api.services import acl
from api.services.errors import Conflict, Invalid
from api.services.records import add_row, apply_update, check_code_free, get, revoke
from api.services.work import Work


def list_machines(session: Session, site: Site) -> list[Machine]:
    return list(
        session.scalars(select(Machine).where(Machine.site_id == site.id).order_by(Machine.code))
    )


def _check_device(session: Session, device_id: int | None, machine_id: int | None) -> None:
    if device_id is None:
        return
    device = get(session, Device, device_id, "device")
    if device.role != "machine":
        raise Invalid(f"device {device.name} has role {device.role}, not machine")
    other = session.scalar(
        select(Machine).where(Machine.device_id == device_id, Machine.id != (machine_id or 0))
    )
    if other is not None:
        raise Conflict(f"device {device.name} already serves machine {other.code}")


def create_machine(work: Work, body: MachineCreate) -> Machine:
    session = work.session
    check_code_free(session, Machine, work.site, body.code, "machine")
    _check_device(session, body.device_id, None)
    machine = add_row(session, work.audit, Machine(site_id=work.site.id, **body.model_dump()))
    session.commit()
    # A new node starts with an empty allow-list rather than none at all.
    work.acl.publish([machine.id])
    session.refresh(machine)
    return machine


def update_machine(work: Work, machine_id: int, body: MachineUpdate) -> Machine:
    session = work.session
    machine = get(session, Machine, machine_id, "machine")
    if "device_id" in body.model_fields_set:
        _check_device(session, body.device_id, machine.id)
    old_device = session.get(Device, machine.device_id) if machine.device_id else None
    before = apply_update(work.audit, machine, body)
    session.commit()
    if before["device_id"] != machine.device_id:
        work.acl.move(machine.id, old_device.id if old_device else None)
    session.refresh(machine)
    return machine


def machine_acl(session: Session, site: Site, machine_id: int) -> AclPublic:
    machine = get(session, Machine, machine_id, "machine")
    target = acl.acl_topic(session, machine)
    return AclPublic(
        machine_id=machine.id,
        device=target[0] if target else None,
        version=machine.acl_version,
        allow=acl.allow_list(session, machine.id, acl.site_today(site)),
    )


def list_trainings(session: Session, user: User) -> list[Training]:
    query = select(Training).order_by(Training.id)
    if user.role == "member":
        query = query.where(Training.member_id == (user.member_id or 0))
    return list(session.scalars(query))


def grant_training(work: Work, body: TrainingCreate) -> Training:
    session = work.session
    get(session, Member, body.member_id, "member")
    get(session, Machine, body.machine_id, "machine")
    if body.expires_on is not None and body.expires_on < work.acl.today():
        raise Invalid(f"expiry {body.expires_on} is in the past")
    training = add_row(
        session, work.audit, Training(**body.model_dump(), granted_by=work.audit.user_id)
    )
    work.acl.check(session, [training.machine_id])
    session.commit()
    work.acl.publish([training.machine_id])
    return training


def revoke_training(work: Work, training_id: int) -> Training:
    training = get(work.session, Training, training_id, "training")
    revoke(work.audit, training, "training")
    work.session.commit()
    work.acl.publish([training.machine_id])
    return training
