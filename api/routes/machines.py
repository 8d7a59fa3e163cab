"""Machines, who is trained on them, and their published ACL."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, IdPath, Manager, SessionDep, SiteDep, Staff, WorkDep
from api.models import Machine, Training
from api.schemas.machines import (
    AclPublic,
    MachineCreate,
    MachinePublic,
    MachineUpdate,
    TrainingCreate,
    TrainingPublic,
)
from api.services import machines

router = APIRouter(tags=["machines"])


@router.get("/machines", response_model=list[MachinePublic])
def list_machines(_: CurrentUser, session: SessionDep, site: SiteDep) -> list[Machine]:
    return machines.list_machines(session, site)


@router.post("/machines", response_model=MachinePublic, status_code=201)
def create_machine(body: MachineCreate, _: Manager, work: WorkDep) -> Machine:
    return machines.create_machine(work, body)


@router.patch("/machines/{machine_id}", response_model=MachinePublic)
def update_machine(machine_id: IdPath, body: MachineUpdate, _: Manager, work: WorkDep) -> Machine:
    return machines.update_machine(work, machine_id, body)


@router.get("/machines/{machine_id}/acl", response_model=AclPublic)
def machine_acl(machine_id: IdPath, _: Staff, session: SessionDep, site: SiteDep) -> AclPublic:
    return machines.machine_acl(session, site, machine_id)


@router.get("/trainings", response_model=list[TrainingPublic])
def list_trainings(user: CurrentUser, session: SessionDep) -> list[Training]:
    return machines.list_trainings(session, user)


@router.post("/trainings", response_model=TrainingPublic, status_code=201)
def grant_training(body: TrainingCreate, _: Manager, work: WorkDep) -> Training:
    return machines.grant_training(work, body)


@router.delete("/trainings/{training_id}", response_model=TrainingPublic)
def revoke_training(training_id: IdPath, _: Manager, work: WorkDep) -> Training:
    return machines.revoke_training(work, training_id)
