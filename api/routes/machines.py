"""Machines, who is trained on them, and their published ACL."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import AuditorDep, CurrentUser, Manager, SessionDep, SiteDep, Staff
from api.models import Device, Machine, Member, Training
from api.routes.common import (
    AclPushDep,
    add_row,
    apply_update,
    check_code_free,
    conflict,
    get_or_404,
    revoke,
    site_today,
    unprocessable,
)
from api.schemas.machines import (
    AclPublic,
    MachineCreate,
    MachinePublic,
    MachineUpdate,
    TrainingCreate,
    TrainingPublic,
)
from api.services import acl
from api.services.mqtt import PublishError

router = APIRouter(tags=["machines"])


@router.get("/machines", response_model=list[MachinePublic])
def list_machines(_: CurrentUser, session: SessionDep, site: SiteDep) -> list[Machine]:
    return list(
        session.scalars(select(Machine).where(Machine.site_id == site.id).order_by(Machine.code))
    )


def _check_device(session: SessionDep, device_id: int | None, machine_id: int | None) -> None:
    if device_id is None:
        return
    device = get_or_404(session, Device, device_id, "device")
    if device.role != "machine":
        raise unprocessable(f"device {device.name} has role {device.role}, not machine")
    other = session.scalar(
        select(Machine).where(Machine.device_id == device_id, Machine.id != (machine_id or 0))
    )
    if other is not None:
        raise conflict(f"device {device.name} already serves machine {other.code}")


@router.post("/machines", response_model=MachinePublic, status_code=201)
def create_machine(
    body: MachineCreate, _: Manager, session: SessionDep, audit: AuditorDep, push: AclPushDep
) -> Machine:
    check_code_free(session, Machine, push.site, body.code, "machine")
    _check_device(session, body.device_id, None)
    machine = add_row(session, audit, Machine(site_id=push.site.id, **body.model_dump()))
    session.commit()
    # A new node starts with an empty allow-list rather than none at all.
    push.publish([machine.id])
    session.refresh(machine)
    return machine


@router.patch("/machines/{machine_id}", response_model=MachinePublic)
def update_machine(
    machine_id: int,
    body: MachineUpdate,
    _: Manager,
    session: SessionDep,
    audit: AuditorDep,
    push: AclPushDep,
) -> Machine:
    machine = get_or_404(session, Machine, machine_id, "machine")
    if "device_id" in body.model_fields_set:
        _check_device(session, body.device_id, machine.id)
    old_device = session.get(Device, machine.device_id) if machine.device_id else None
    before = apply_update(audit, machine, body)
    session.commit()
    if before["device_id"] != machine.device_id:
        if old_device is not None and push.publisher is not None:
            try:
                acl.clear_device(push.factory, push.publisher, machine.id, old_device.name)
            except PublishError as exc:
                acl.log.warning("old device %s keeps its ACL: %s", old_device.name, exc)
        push.publish([machine.id])
    session.refresh(machine)
    return machine


@router.get("/machines/{machine_id}/acl", response_model=AclPublic)
def machine_acl(machine_id: int, _: Staff, session: SessionDep, site: SiteDep) -> AclPublic:
    machine = get_or_404(session, Machine, machine_id, "machine")
    target = acl.acl_topic(session, machine)
    return AclPublic(
        machine_id=machine.id,
        device=target[0] if target else None,
        version=machine.acl_version,
        allow=acl.allow_list(session, machine.id, site_today(site)),
    )


@router.get("/trainings", response_model=list[TrainingPublic])
def list_trainings(user: CurrentUser, session: SessionDep) -> list[Training]:
    query = select(Training).order_by(Training.id)
    if user.role == "member":
        query = query.where(Training.member_id == (user.member_id or 0))
    return list(session.scalars(query))


@router.post("/trainings", response_model=TrainingPublic, status_code=201)
def grant_training(
    body: TrainingCreate, user: Manager, session: SessionDep, audit: AuditorDep, push: AclPushDep
) -> Training:
    get_or_404(session, Member, body.member_id, "member")
    get_or_404(session, Machine, body.machine_id, "machine")
    if body.expires_on is not None and body.expires_on < push.today():
        raise unprocessable(f"expiry {body.expires_on} is in the past")
    training = add_row(session, audit, Training(**body.model_dump(), granted_by=user.id))
    push.check(session, [training.machine_id])
    session.commit()
    push.publish([training.machine_id])
    return training


@router.delete("/trainings/{training_id}", response_model=TrainingPublic)
def revoke_training(
    training_id: int, _: Manager, session: SessionDep, audit: AuditorDep, push: AclPushDep
) -> Training:
    training = revoke(audit, get_or_404(session, Training, training_id, "training"), "training")
    session.commit()
    push.publish([training.machine_id])
    return training
