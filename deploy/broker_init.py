"""`python -m deploy.broker_init SEED LIVE [--certs FROM TO]`: what the
mosquitto-init service runs before each start of the broker. The bootstrap's
logins (SEED, made from `.env`) are put over the broker's own
dynamic-security file (LIVE, in its data volume, which the plugin rewrites
whenever the api adds or changes a device), so a changed `.env` reaches the
broker and the devices stay. With --certs, the broker's certificate and key
(FROM, the bootstrap's) are copied into TO in the volume: Mosquitto reads them
after dropping root, so they must be files it owns (the image's entrypoint
hands /mosquitto to the broker's user), not the site's root-only key."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from broker.accounts import merged
from deploy.files import write_if_changed


class BadFile(Exception):
    pass


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise BadFile(f"{what} {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadFile(f"{what} {path} is not a JSON object")
    return data


def _as_loaded(config: dict[str, Any]) -> dict[str, Any]:
    """What the plugin reads from a file: it keeps a role's ACLs in an order of
    its own, so their order says nothing."""
    roles = [{**role, "acls": sorted(role.get("acls", []), key=lambda acl: json.dumps(
        acl, sort_keys=True))} for role in config.get("roles", [])]
    return {**config, "roles": roles}


CERT_FILES = ("broker.crt", "broker.key")


def copy_certs(source: Path, target: Path) -> list[str]:
    """The broker's certificate and key from `source` into `target` (key 600);
    the names of the files that changed."""
    changed = []
    for name in CERT_FILES:
        try:
            text = (source / name).read_text()
        except OSError as exc:
            raise BadFile(f"no {source / name} ({exc.strerror}): run `python -m "
                          "deploy.bootstrap` in the site's folder first") from None
        if write_if_changed(target / name, text, 0o600 if name.endswith(".key") else 0o644):
            changed.append(name)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    certs: tuple[Path, Path] | None = None
    if len(args) == 5 and args[2] == "--certs":
        certs = Path(args[3]), Path(args[4])
        args = args[:2]
    if len(args) != 2:
        print("usage: python -m deploy.broker_init SEED LIVE [--certs FROM TO]", file=sys.stderr)
        return 2
    seed, live = Path(args[0]), Path(args[1])
    if not seed.is_file():
        print(f"broker_init: no {seed}: run `python -m deploy.bootstrap` in the site's folder "
              "first", file=sys.stderr)
        return 2
    try:
        current = _load(live, "the broker's file") if live.exists() else {}
        result = merged(current, _load(seed, "the bootstrap's file"))
        copied = copy_certs(*certs) if certs is not None else []
    except BadFile as exc:
        print(f"broker_init: {exc}", file=sys.stderr)
        return 2
    if certs is not None:
        print(f"broker_init: {certs[1]} " + (f"updated ({', '.join(copied)})" if copied
                                             else "unchanged"))
    # The plugin writes its own layout: compare what it says, not how.
    if _as_loaded(result) == _as_loaded(current):
        print(f"broker_init: {live} unchanged")
    else:
        write_if_changed(live, json.dumps(result, indent=1) + "\n")
        print(f"broker_init: {live} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
