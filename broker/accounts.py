"""Who may log in to the site broker and what each login may touch, as
Mosquitto's dynamic-security plugin holds it: one client and one role per
service login, one client and one role per device. The bootstrap writes the
service part of the plugin's file from `.env`, the api adds and changes the
devices through the plugin's `$CONTROL` topic, and the local stack and the
tests start their brokers from the same definitions.

Mosquitto 2.0 does not put the username into a role's topics (%u, %c come in
2.1), so each device has a role of its own naming its own topics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from broker.passwords import PasswordHash
from protocol import wire

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"

GATEWAY, API, ALERTS, HEALTH = "gateway", "api", "alerts", "health"
# Whoever follows the alerts over MQTT: a phone's MQTT app, Home Assistant, Node-RED.
ALERTS_READER = "alerts-reader"
# The service logins: also the names of their roles; no device may take one.
SERVICE_LOGINS = (GATEWAY, API, ALERTS, HEALTH, ALERTS_READER)
# Where the alerts service publishes (`<prefix>/<site>`), and where the
# gateway announces devices to Home Assistant when asked to.
ALERTS_PREFIX = "mf-alerts"
DISCOVERY_PREFIX = "homeassistant"
DEVICE_ROLE_PREFIX = "device-"

# What no role grants is refused, receiving included.
DEFAULT_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}

Acl = dict[str, Any]
Config = dict[str, Any]


def _acl(kind: str, topic: str) -> Acl:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def _read(topic: str, subscribe: str = "subscribePattern") -> list[Acl]:
    return [_acl(subscribe, topic), _acl("publishClientReceive", topic)]


def _write(topic: str) -> list[Acl]:
    return [_acl("publishClientSend", topic)]


def service_roles(
    site: str, alerts_prefix: str = ALERTS_PREFIX, discovery_prefix: str = ""
) -> dict[str, list[Acl]]:
    """Each service login's topics: the gateway reads every node topic (also
    through a shared subscription, which 2.0 checks with its `$share/<group>/`
    prefix) and writes dead letters and its own status (and Home Assistant discovery under
    `discovery_prefix`, when set); the api writes the nodes' ACLs and commands
    of its site, reads their retained ACLs back (the sweep, with a marker under
    its own `mf-api/` prefix) and administers the plugin (device logins); the
    alerts write alerts and read the gateways' statuses (a full spool), which
    the alerts' reader reads; the health check only reads `$SYS`."""
    nodes = wire.PREFIX + "/#"
    wire.check_name("site", site)
    downlink = [f"{wire.PREFIX}/{site}/+/{channel}" for channel in wire.DOWNLINK]
    discovery = _write(discovery_prefix + "/#") if discovery_prefix else []
    return {
        GATEWAY: [*_read(nodes), *_read("$share/+/" + nodes),
                  *_write(wire.DEADLETTER_PREFIX + "/#"), *_write(wire.GATEWAY_PREFIX + "/#"),
                  *discovery],
        API: [*(acl for topic in downlink for acl in _write(topic)),
              # The ACL sweep reads back what the broker holds retained, and
              # knows it has all of it when its own marker returns (api/services/mqtt.py).
              *_read(wire.topic_filter(site, "acl"), "subscribeLiteral"),
              *_read(wire.API_PREFIX + "/#"), *_write(wire.API_PREFIX + "/#"),
              *_write(CONTROL_TOPIC), *_read(RESPONSE_TOPIC, "subscribeLiteral")],
        ALERTS: [*_write(alerts_prefix + "/#"),
                 *_read(wire.gateway_status_topic("+"), "subscribeLiteral")],
        HEALTH: _read("$SYS/#"),
        ALERTS_READER: _read(alerts_prefix + "/#"),
    }


def device_role_name(device: str) -> str:
    return DEVICE_ROLE_PREFIX + device


def device_acls(site: str, device: str) -> list[Acl]:
    """A device writes its uplink and reads its downlink, nothing else."""
    acls = [acl for channel in wire.UPLINK for acl in _write(wire.topic(site, device, channel))]
    for channel in wire.DOWNLINK:
        acls += _read(wire.topic(site, device, channel), "subscribeLiteral")
    return acls


def client(username: str, password: PasswordHash, roles: Iterable[str]) -> Config:
    return {"username": username, **password.dynsec_fields(),
            "roles": [{"rolename": role} for role in roles]}


def service_accounts(
    passwords: Mapping[str, str],
    site: str,
    previous: Mapping[str, Any] | None = None,
    alerts_prefix: str = ALERTS_PREFIX,
    discovery_prefix: str = "",
) -> Config:
    """The plugin file's service part: a client and a role per service login.
    A login whose password still matches its hash in `previous` keeps that
    hash (and salt), so the same passwords give the same file again."""
    missing = [name for name in SERVICE_LOGINS if not passwords.get(name)]
    if missing:
        raise ValueError(f"no password for the broker login(s) {', '.join(missing)}")
    old = {c.get("username"): c for c in (previous or {}).get("clients", [])}
    clients = []
    for name in SERVICE_LOGINS:
        kept = PasswordHash.from_dynsec(old.get(name, {}))
        still = kept is not None and kept.matches(passwords[name])
        hashed = kept if kept is not None and still else PasswordHash.of(passwords[name])
        clients.append(client(name, hashed, [name]))
    roles = [{"rolename": name, "acls": acls}
             for name, acls in service_roles(site, alerts_prefix, discovery_prefix).items()]
    return {"defaultACLAccess": dict(DEFAULT_ACCESS), "clients": clients, "roles": roles,
            "groups": []}


def device_accounts(site: str, devices: Mapping[str, PasswordHash]) -> Config:
    """Device clients and their roles, for a broker started with them."""
    return {
        "clients": [client(name, hashed, [device_role_name(name)])
                    for name, hashed in devices.items()],
        "roles": [{"rolename": device_role_name(name), "acls": device_acls(site, name)}
                  for name in devices],
    }


_KEYS = {"clients": "username", "roles": "rolename", "groups": "groupname"}


def merged(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> Config:
    """`base` (the broker's file as it runs) with the clients, roles, groups and
    default access of `overlay` put over it by name; the rest of `base` (the
    devices the api added) is kept."""
    result: Config = {k: v for k, v in base.items() if k not in _KEYS}
    if "defaultACLAccess" in overlay:
        result["defaultACLAccess"] = dict(overlay["defaultACLAccess"])
    for section, key in _KEYS.items():
        entries = {entry[key]: entry for entry in base.get(section, [])}
        entries.update({entry[key]: entry for entry in overlay.get(section, [])})
        result[section] = list(entries.values())
    return result


# --- commands on $CONTROL/dynamic-security/v1 ----------------------------------------


def lookup_commands(device: str) -> list[Config]:
    """What the broker holds of a device now; `grant_commands` reads the answers."""
    return [{"command": "getClient", "username": device},
            {"command": "getRole", "rolename": device_role_name(device)}]


def _data(response: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    if response.get("error"):
        return None
    found = response.get("data", {}).get(key)
    return found if isinstance(found, Mapping) else None


def _acl_key(acl: Mapping[str, Any]) -> tuple[str, str, bool]:
    return str(acl.get("acltype")), str(acl.get("topic")), bool(acl.get("allow"))


def grant_commands(
    site: str, device: str, password: str, lookup: Sequence[Mapping[str, Any]]
) -> list[Config]:
    """Give `device` a working login with `password` and exactly its own
    topics, from what `lookup_commands` found. Changing the password of a
    connected client disconnects it: the old password stops working at once."""
    held_client, held_role = _data(lookup[0], "client"), _data(lookup[1], "role")
    role = device_role_name(device)
    wanted = device_acls(site, device)
    commands: list[Config] = []
    if held_role is None:
        commands.append({"command": "createRole", "rolename": role, "acls": wanted})
    else:
        held = {_acl_key(acl) for acl in held_role.get("acls", [])}
        want = {_acl_key(acl) for acl in wanted}
        commands += [{"command": "removeRoleACL", "rolename": role, "acltype": kind, "topic": topic}
                     for kind, topic, _ in sorted(held - want)]
        commands += [{"command": "addRoleACL", "rolename": role, **acl}
                     for acl in wanted if _acl_key(acl) not in held]
    if held_client is None:
        commands.append({"command": "createClient", "username": device, "password": password,
                         "roles": [{"rolename": role}]})
        return commands
    commands.append({"command": "setClientPassword", "username": device, "password": password})
    if role not in [r.get("rolename") for r in held_client.get("roles", [])]:
        commands.append({"command": "addClientRole", "username": device, "rolename": role})
    if held_client.get("disabled"):
        commands.append({"command": "enableClient", "username": device})
    return commands


def revoke_commands(device: str) -> list[Config]:
    """The device can no longer log in; a connected one is disconnected."""
    return [{"command": "disableClient", "username": device}]
