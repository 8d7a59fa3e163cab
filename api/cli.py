"""`python -m api.cli`: the admin's daily work against the configured database.

Each command validates with the api's own schemas and calls the same service
as the HTTP route, so the CLI and the HTTP API cannot disagree. Errors name
the problem and exit with status 2; nothing is stored then."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db import make_sessionmaker
from api.main import make_logins, make_publisher, make_reader, start_up
from api.migrate import missing_site
from api.models import AllocationRun, Device, ElectricityBill, Machine, Member, Site, Unit, User
from api.schemas.bills import BillClose, BillCreate, BillPublic, SplitRequest, TariffCreate
from api.schemas.common import readable
from api.schemas.machines import (
    CommandCreate,
    DeviceCreate,
    DevicePublic,
    MachineCreate,
    MachinePublic,
    NodeConfigRequest,
    TrainingCreate,
    TrainingPublic,
)
from api.schemas.people import (
    BadgeCreate,
    BadgePublic,
    MemberCreate,
    MemberPublic,
    UserCreate,
    UserPublic,
)
from api.schemas.spaces import LeaseCreate, LeasePublic, UnitCreate, UnitPublic
from api.services import (
    badges,
    bills,
    commands,
    counter_cache,
    devices,
    machines,
    members,
    node_config,
    spaces,
    splits,
    statements,
    users,
)
from api.services.acl import AclPush
from api.services.audit import Auditor
from api.services.downlink import signer
from api.services.errors import Invalid, NotFound, ServiceError
from api.services.records import Coded, by_code
from api.services.work import Work
from api.settings import Settings, settings_problem
from protocol import wire

# What a refused database is told (docs/operations.md, "Aim the CLI").
AIM = (
    "The CLI works on the api's own database. Aim it there: --env-file FILE with the "
    "api's API_* settings (`make run` prints the line for its stack), or API_DATABASE_URL "
    "and API_SITE as the api has them. To create a new database here instead, add --init."
)


def fail(message: str) -> NoReturn:
    raise Invalid(message)


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = start_up(settings)
        self.factory: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.session = self.factory()
        site = self.session.scalar(select(Site).where(Site.name == settings.site))
        assert site is not None  # seeded by start_up
        self.site = site
        login = os.environ.get("SUDO_USER") or getpass.getuser()
        self.actor = User(id=None, username=f"cli:{login}", role="admin", active=True)
        # Neither connects before its first use.
        self.publisher = make_publisher(settings)
        self.reader = make_reader(settings)
        self.logins = make_logins(settings)
        self.work = Work(
            self.session,
            site,
            Auditor(self.session, self.actor.username, None),
            AclPush(self.factory, self.publisher, site, signer(settings)),
            self.logins,
        )

    def by_code(self, model: type[Coded], code: str, what: str) -> Coded:
        return by_code(self.session, self.site, model, code, what)

    def by_id(self, model: type[Any], row_id: int, what: str) -> Any:
        row = self.session.get(model, row_id)
        if row is None:
            raise NotFound(f"no {what} {row_id}")
        return row

    def close(self) -> None:
        self.session.close()
        self.publisher.close()
        self.reader.close()
        self.logins.close()
        self.engine.dispose()


def parse(schema: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        fail(readable(exc.errors(), whole="input"))


def _show(row: Any, schema: type[BaseModel] | None = None) -> None:
    if isinstance(row, BaseModel):
        print(row.model_dump_json())
    elif schema is not None:
        print(schema.model_validate(row).model_dump_json())


# --- commands -------------------------------------------------------------------


def cmd_create_user(ctx: Context, args: argparse.Namespace) -> None:
    password = args.password or os.environ.get("API_NEW_PASSWORD") or getpass.getpass("password: ")
    member_id = ctx.by_code(Member, args.member, "member").id if args.member else None
    body = parse(
        UserCreate,
        {
            "username": args.username,
            "password": password,
            "role": args.role,
            "member_id": member_id,
        },
    )
    _show(users.create_user(ctx.work, body), UserPublic)


def cmd_add_member(ctx: Context, args: argparse.Namespace) -> None:
    body = parse(
        MemberCreate,
        {
            "code": args.code,
            "name": args.name,
            "kind": args.kind,
            "cost_centre": args.cost_centre,
            "email": args.email,
        },
    )
    _show(members.create_member(ctx.work, body), MemberPublic)


def cmd_add_unit(ctx: Context, args: argparse.Namespace) -> None:
    body = parse(
        UnitCreate,
        {
            "code": args.code,
            "area_m2": args.area,
            "weight": args.weight,
            "heated": not args.unheated,
        },
    )
    _show(spaces.create_unit(ctx.work, body), UnitPublic)


def cmd_add_lease(ctx: Context, args: argparse.Namespace) -> None:
    unit = ctx.by_code(Unit, args.unit, "unit")
    member = ctx.by_code(Member, args.member, "member")
    body = parse(
        LeaseCreate,
        {"unit_id": unit.id, "member_id": member.id, "start": args.start, "end": args.end},
    )
    _show(spaces.create_lease(ctx.work, body), LeasePublic)


def cmd_add_device(ctx: Context, args: argparse.Namespace) -> None:
    body = parse(DeviceCreate, {"name": args.name, "role": args.role})
    creds = devices.create_device(ctx.work, body)
    _show(creds)
    print(f"MQTT password for {creds.name} (shown once): {creds.mqtt_password}", file=sys.stderr)


def cmd_revoke_device(ctx: Context, args: argparse.Namespace) -> None:
    device = ctx.by_code(Device, args.name, "device")
    _show(devices.revoke_device(ctx.work, device.id), DevicePublic)


def _setting(text: str) -> tuple[str, Any]:
    """KEY=VALUE of --set: VALUE as JSON (numbers, lists, objects), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        fail(f"--set {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def cmd_node_config(ctx: Context, args: argparse.Namespace) -> None:
    device = ctx.by_code(Device, args.device, "device")
    settings = _load_json(args.settings) if args.settings else {}
    if not isinstance(settings, dict):
        fail(f"{args.settings}: expected a JSON object of node settings")
    settings.update(_setting(item) for item in args.set)
    request: dict[str, Any] = {"settings": settings}
    if args.wifi_ssid is not None:
        request["wifi"] = {"ssid": args.wifi_ssid, "password": args.wifi_password or ""}
    body = parse(NodeConfigRequest, request)
    config = node_config.issue(ctx.work, ctx.settings, device.id, body)
    text = json.dumps(config, indent=1, sort_keys=True) + "\n"
    if args.out:
        out = Path(args.out)
        out.touch(mode=0o600, exist_ok=True)
        out.chmod(0o600)  # it holds the device's MQTT password
        out.write_text(text)
        print(args.out)
    else:
        print(text, end="")
    print(
        f"issued a new MQTT password for {device.name}: a node flashed with an earlier "
        "config no longer logs in",
        file=sys.stderr,
    )
    if not config["wifi"]["ssid"]:
        print("wifi.ssid is empty: set API_NODE_WIFI_SSID or --wifi-ssid", file=sys.stderr)


def cmd_add_machine(ctx: Context, args: argparse.Namespace) -> None:
    device_id = ctx.by_code(Device, args.device, "device").id if args.device else None
    body = parse(
        MachineCreate,
        {
            "code": args.code,
            "name": args.name,
            "kind": args.kind,
            "device_id": device_id,
            "rated_power_w": args.rated_power_w,
            "grace_minutes": args.grace_minutes,
        },
    )
    _show(machines.create_machine(ctx.work, body), MachinePublic)


def cmd_enrol_badge(ctx: Context, args: argparse.Namespace) -> None:
    member = ctx.by_code(Member, args.member, "member")
    body = parse(
        BadgeCreate,
        {"member_id": member.id, "uid": args.uid, "kind": args.kind, "holder": args.holder},
    )
    _show(badges.enrol_badge(ctx.work, body, ctx.settings.badge_key), BadgePublic)


def cmd_grant_training(ctx: Context, args: argparse.Namespace) -> None:
    member = ctx.by_code(Member, args.member, "member")
    machine = ctx.by_code(Machine, args.machine, "machine")
    body = parse(
        TrainingCreate,
        {"member_id": member.id, "machine_id": machine.id, "expires_on": args.expires},
    )
    _show(machines.grant_training(ctx.work, body), TrainingPublic)


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except ValueError as exc:
        fail(f"{path} is not JSON: {exc}")


def cmd_import_bill(ctx: Context, args: argparse.Namespace) -> None:
    """File: {"tariff": {name, bands, demand_method}, "period_start", "period_end",
    "bands": [{name, kwh, cost}], "demand_cost", "fixed_cost", ...}; the tariff is
    created when no tariff of that name exists."""
    data = _load_json(args.file)
    if not isinstance(data, dict) or not isinstance(data.get("tariff"), dict):
        fail(f"{args.file}: expected an object with a 'tariff' object")
    tariff_data = data.pop("tariff")
    tariff = bills.tariff_named(ctx.session, ctx.site, tariff_data.get("name"))
    if tariff is None:
        tariff = bills.create_tariff(ctx.work, parse(TariffCreate, tariff_data))
    body = parse(BillCreate, {**data, "tariff_id": tariff.id})
    _show(bills.create_bill(ctx.work, body), BillPublic)


def cmd_run_split(ctx: Context, args: argparse.Namespace) -> None:
    bill = ctx.by_id(ElectricityBill, args.bill, "bill")
    request = parse(SplitRequest, {"manual": _load_json(args.manual)}) if args.manual else None
    run = splits.run_split(ctx.work, ctx.reader, bill.id, request)
    print(json.dumps({"split_id": run.id, "total": run.result["total"], "notes": run.notes}))


def cmd_export_split(ctx: Context, args: argparse.Namespace) -> None:
    run = ctx.by_id(AllocationRun, args.split, "split")
    if args.pdf:
        member = ctx.by_code(Member, args.pdf, "member")
        pdf = statements.statement_pdf_of(ctx.session, ctx.actor, ctx.site, run.id, member.id)
        Path(args.out).write_bytes(pdf.content)
    else:
        Path(args.out).write_text(run.csv)
    print(args.out)


def cmd_export_passwd(ctx: Context, args: argparse.Namespace) -> None:
    Path(args.out).write_text(devices.mosquitto_passwd(ctx.session, ctx.site))
    print(args.out)


def cmd_refresh_counters(ctx: Context, args: argparse.Namespace) -> None:
    count, refreshed = counter_cache.refresh_site(
        ctx.session, ctx.reader, ctx.site, rebuild_first=args.rebuild
    )
    print(
        json.dumps(
            {"devices": count, "rows_added": refreshed.rows, "late_days": refreshed.late_days}
        )
    )


def cmd_close_bill(ctx: Context, args: argparse.Namespace) -> None:
    body = parse(BillClose, {"override_held": args.override_held})
    _show(bills.close_bill(ctx.work, args.bill, body), BillPublic)


def cmd_send_command(ctx: Context, args: argparse.Namespace) -> None:
    device = ctx.by_code(Device, args.device, "device")
    try:
        command_args = json.loads(args.args)
    except ValueError as exc:
        fail(f"--args is not JSON: {exc}")
    body = parse(CommandCreate, {"op": args.op, "args": command_args})
    _show(commands.send_command(ctx.work, device.id, body))


def cmd_publish_acls(ctx: Context, args: argparse.Namespace) -> None:
    print(json.dumps({"published": ctx.work.acl.publish_site()}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        help="read API_* settings from this file (the api's own environment, e.g. "
        "var/stack/api.env of `make run`); variables already set win",
    )
    parser.add_argument("--database-url", help="overrides API_DATABASE_URL")
    parser.add_argument(
        "--init",
        action="store_true",
        help="create the database and the site if missing (otherwise the CLI refuses a "
        "database that is not the api's)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Callable[[Context, argparse.Namespace], None]] = {}

    def add(
        name: str, func: Callable[[Context, argparse.Namespace], None], help_text: str
    ) -> argparse.ArgumentParser:
        commands[name] = func
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        return p

    p = add(
        "create-user",
        cmd_create_user,
        "create a login (password from --password, API_NEW_PASSWORD or prompt)",
    )
    p.add_argument("username")
    p.add_argument(
        "--role", default="member", choices=("member", "coordinator", "treasurer", "admin")
    )
    p.add_argument("--member", help="member code the login belongs to")
    p.add_argument("--password")
    p = add("add-member", cmd_add_member, "add a member (company or person)")
    p.add_argument("code")
    p.add_argument("name")
    p.add_argument("--kind", default="company", choices=("company", "person"))
    p.add_argument("--cost-centre", default="")
    p.add_argument("--email", default="")
    p = add("add-unit", cmd_add_unit, "add a rentable unit")
    p.add_argument("code")
    p.add_argument("area", help="area in m2")
    p.add_argument("--weight", default="1")
    p.add_argument("--unheated", action="store_true")
    p = add("add-lease", cmd_add_lease, "lease a unit to a member (dates inclusive)")
    p.add_argument("unit")
    p.add_argument("member")
    p.add_argument("start", type=date.fromisoformat)
    p.add_argument("--end", type=date.fromisoformat)
    p = add("add-device", cmd_add_device, "add a device and print its MQTT password once")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=("machine", "heating", "meter"))
    p = add("revoke-device", cmd_revoke_device,
            "retire a device: its broker login stops working at once")
    p.add_argument("name")
    p = add(
        "node-config",
        cmd_node_config,
        "write a node's config.json (issues the device a new MQTT password)",
    )
    p.add_argument("device", help="device name")
    p.add_argument("--out", help="file to write (mode 600); default: standard output")
    p.add_argument("--wifi-ssid", help="default: API_NODE_WIFI_SSID")
    p.add_argument("--wifi-password")
    p.add_argument("--settings", help="JSON file: an object of firmware settings of the node")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one firmware setting (VALUE as JSON, e.g. telemetry_s=10 or "
        'sensors=\'{"t_flow": "28..."}\'); repeatable',
    )
    p = add("add-machine", cmd_add_machine, "add a machine")
    p.add_argument("code")
    p.add_argument("--rated-power-w", type=int, required=True)
    p.add_argument("--grace-minutes", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--name", default="")
    p.add_argument("--kind", default="")
    p = add("enrol-badge", cmd_enrol_badge, "enrol a badge (the UID is hashed, never stored)")
    p.add_argument("member")
    p.add_argument("uid", help="card UID in hex, e.g. 04:A2:1B:C3")
    p.add_argument("--kind", default="personal", choices=("personal", "company"))
    p.add_argument("--holder", default="")
    p = add("grant-training", cmd_grant_training, "allow a member on a machine")
    p.add_argument("member")
    p.add_argument("machine")
    p.add_argument("--expires", type=date.fromisoformat, help="last valid day")
    p = add("import-bill", cmd_import_bill, "import an electricity bill from JSON")
    p.add_argument("file")
    p = add("run-split", cmd_run_split, "split a bill (sessions and counters from InfluxDB)")
    p.add_argument("bill", type=int)
    p.add_argument("--manual", help="JSON file with metered_kwh / demand_intervals_kw typed in")
    p = add(
        "close-bill",
        cmd_close_bill,
        "close a bill: its latest split is sent to the members and never changes again",
    )
    p.add_argument("bill", type=int)
    p.add_argument(
        "--override-held",
        metavar="REASON",
        help="close although the latest split is held, for this reason (audited)",
    )
    p = add("export-split", cmd_export_split, "write a split as CSV, or one member's PDF statement")
    p.add_argument("split", type=int)
    p.add_argument("out")
    p.add_argument("--pdf", metavar="MEMBER", help="member code: write their PDF statement")
    add("publish-acls", cmd_publish_acls, "republish every machine's ACL")
    p = add("send-command", cmd_send_command, "send a node a signed command")
    p.add_argument("device")
    p.add_argument("op", choices=wire.CMD_OPS)
    p.add_argument("--args", default="{}", help='JSON object, e.g. \'{"config": {...}}\'')
    p = add("refresh-counters", cmd_refresh_counters, "copy settled counter slots from InfluxDB")
    p.add_argument(
        "--rebuild", action="store_true", help="forget the copy first (after old replays)"
    )
    p = add("export-passwd", cmd_export_passwd,
            "write the active devices' Mosquitto password-file lines (API_DEVICE_LOGINS=manual)")
    p.add_argument("out")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {"database_url": args.database_url} if args.database_url else {}
    if args.env_file is not None and not args.env_file.is_file():
        print(f"error: no env file {args.env_file}", file=sys.stderr)
        return 2
    try:
        settings = Settings(_env_file=args.env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        print(f"error: settings: {settings_problem(exc)}", file=sys.stderr)
        return 2
    problem = "" if args.init else missing_site(settings.database_url, settings.site)
    if problem:
        print(f"error: {problem}.\n{AIM}", file=sys.stderr)
        return 2
    ctx = Context(settings)
    try:
        args.func(ctx, args)
    except ServiceError as exc:
        ctx.session.rollback()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
