"""Commands to a node, signed with its key and versioned like its ACLs
(api/services/downlink.py), sent once at QoS 1 and never retained: a node that
is offline misses it, and a copy replayed later is refused by its version."""

from __future__ import annotations

import time

from api.models import Device
from api.schemas.machines import CommandCreate, CommandSent
from api.services.downlink import next_version
from api.services.errors import Conflict, Unavailable
from api.services.mqtt import PublishError
from api.services.records import get
from api.services.work import Work
from protocol import wire


def send_command(work: Work, device_id: int, body: CommandCreate) -> CommandSent:
    session, push = work.session, work.acl
    device = get(session, Device, device_id, "device")
    if device.revoked_at is not None:
        raise Conflict(f"device {device.name} was retired at {device.revoked_at}")
    if push.publisher is None:
        raise Unavailable("no broker connection: the command was not sent")
    args = {"ms": int(time.time() * 1000)} if body.op == "time" else dict(body.args)
    version = next_version(session, device.id)
    payload = push.signer.seal(
        work.site.name, device.name, "cmd", wire.cmd(body.op, version, version, args or None)
    )
    work.audit.record("command", "device", device.id, after={"op": body.op, "version": version})
    session.commit()  # the version is spent even if the broker is away: never reused
    try:
        push.publisher.publish(wire.topic(work.site.name, device.name, "cmd"), payload)
    except PublishError as exc:
        raise Unavailable(f"command {body.op} to {device.name} not sent: {exc}") from exc
    return CommandSent(device=device.name, op=body.op, version=version)
