# The wire protocol between nodes and the server: topic names, JSON payload
# encoding and validation. One module for firmware (MicroPython), simulator and
# gateway (CPython); it imports only json, so it runs unchanged on both.
# No f-strings with nested expressions, no typing at run time: MicroPython.
import json

SCHEMA_VERSION = 1
PREFIX = "mf"
DEADLETTER_PREFIX = "mf-deadletter"
GATEWAY_PREFIX = "mf-gateway"
# The api's own topics (the ACL sweep's end marker), outside mf/: no node and
# no gateway sees them.
API_PREFIX = "mf-api"
CHANNELS = ("status", "telemetry", "event", "acl", "cmd")
UPLINK = ("status", "telemetry", "event")
DOWNLINK = ("acl", "cmd")

# Byte limits per payload.
MAX_PAYLOAD = 4096
# The most badges one machine's ACL may hold (allow plus master): what a
# machine node can receive next to its own state in the RAM of an ESP32
# without PSRAM, with its modules loaded as .mpy files (the costlier way).
# Derived and checked in tests/firmware/test_memory.py; the api refuses a
# change that would make an allow-list longer (api/services/acl.py).
MAX_ACL_BADGES = 1000
# One hash is '"<16 hex>", ' in the api's JSON: 20 bytes, plus the envelope
# (version, keys and the 76-byte MAC member of protocol/downlink.py).
ACL_ENTRY_BYTES = 20
MAX_ACL_PAYLOAD = ACL_ENTRY_BYTES * MAX_ACL_BADGES + 256
# The largest payload anyone publishes on the site's broker (that ACL): its
# message_size_limit (deploy/mosquitto/mosquitto.conf, devservers), so that no
# device can push more through to the gateway. tests/test_deployment.py holds
# the shipped value to it; the gateway cuts its dead letters to fit.
MAX_MESSAGE = MAX_ACL_PAYLOAD
MAX_NAME = 32
MAX_FIELDS = 32

# Plausible device time, Unix milliseconds: 2020-01-01 .. 2100-01-01. A node
# whose clock is not yet set sends "tq": 0 and the gateway uses its own clock.
TS_MIN_MS = 1577836800000
TS_MAX_MS = 4102444800000

STATES = ("online", "offline")
EVENT_KINDS = ("badge", "session_start", "session_end", "relay", "fault", "boot", "refused")
CMD_OPS = ("relay_off", "reboot", "config", "time", "ping")
ROLES = ("machine", "heating", "meter")
# Optional integer health figures in an online status (outbox depth, messages
# dropped because the outbox was full, reconnects since boot, Wi-Fi RSSI).
HEALTH_FIELDS = ("outbox", "dropped", "reconnects", "rssi")

# InfluxDB stores integers as signed 64-bit; larger ones would fail a whole write.
INT_MIN = -9223372036854775808
INT_MAX = 9223372036854775807
# The gateway writes seq and tq next to the counters and readings of a
# telemetry point; "time" is InfluxDB's timestamp column, and a field of that
# name is dropped without an error (found by tests/gateway/test_fuzz.py).
RESERVED_NAMES = ("seq", "tq", "time")

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
_HEX = "0123456789abcdef"
MAC_HEX_DIGITS = 64  # a downlink message's HMAC-SHA256 (protocol/downlink.py)
_INF = float("inf")


class ProtocolError(ValueError):
    """A rejected topic or payload. `code` is stable (metrics, dead letters);
    `detail` says what was wrong for a human."""

    def __init__(self, code, detail):
        super().__init__(code + ": " + detail)
        self.code = code
        self.detail = detail


# --- topics -----------------------------------------------------------------


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise ProtocolError("bad_name", "%s must be 1-%d characters" % (kind, MAX_NAME))
    # strip() removes allowed characters from both ends; whatever is left is not
    # allowed. One call instead of a loop per character (the gateway's hot path).
    if name.strip(_NAME_CHARS):
        raise ProtocolError("bad_name", "%s %r: only a-z 0-9 _ -" % (kind, name))
    return name


def topic(site: str, device: str, channel: str) -> str:
    if channel not in CHANNELS:
        raise ProtocolError("bad_topic", "unknown channel %r" % channel)
    return "%s/%s/%s/%s" % (PREFIX, check_name("site", site), check_name("device", device), channel)


def topic_filter(site: str, channel: str) -> str:
    """Every device's topic of one channel at a site: 'mf/<site>/+/<channel>'."""
    if channel not in CHANNELS:
        raise ProtocolError("bad_topic", "unknown channel %r" % channel)
    return "%s/%s/+/%s" % (PREFIX, check_name("site", site), channel)


def parse_topic(name: str) -> tuple:
    """'mf/<site>/<device>/<channel>' -> (site, device, channel)."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != PREFIX:
        expected = "expected %s/<site>/<device>/<channel>, got %r" % (PREFIX, name)
        raise ProtocolError("bad_topic", expected)
    if parts[3] not in CHANNELS:
        raise ProtocolError("bad_topic", "unknown channel %r" % parts[3])
    check_name("site", parts[1])
    check_name("device", parts[2])
    return parts[1], parts[2], parts[3]


def deadletter_topic(original: str) -> str:
    # Outside the "mf/" tree so that consumers of mf/# never see rejects.
    return DEADLETTER_PREFIX + "/" + original


# A gateway's retained status says "state": acknowledgements flowing, or
# paused because its disk spool is full (the alert service fires on that).
GATEWAY_OK = "ok"
GATEWAY_SPOOL_FULL = "spool_full"


def gateway_status_topic(client_id: str) -> str:
    # A gateway's own state (retained), e.g. its spool full: outside "mf/" too.
    # gateway_status_topic("+") is the subscription for every gateway's.
    return GATEWAY_PREFIX + "/" + client_id + "/status"


def parse_gateway_status_topic(name: str) -> str:
    """'mf-gateway/<client id>/status' -> the client id."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != GATEWAY_PREFIX or parts[2] != "status" or not parts[1]:
        raise ProtocolError("bad_topic", "expected %s/<client id>/status, got %r"
                            % (GATEWAY_PREFIX, name))
    return parts[1]


# --- field checks -----------------------------------------------------------


def _need(msg: dict, key: str, kinds: tuple):
    if key not in msg:
        raise ProtocolError("missing_field", "field %r is required" % key)
    value = msg[key]
    # bool is an int subclass in CPython (not in MicroPython); never a number here.
    if isinstance(value, bool) and bool not in kinds:
        detail = "field %r must be %s, not a boolean" % (key, _names(kinds))
        raise ProtocolError("wrong_type", detail)
    if not isinstance(value, kinds):
        raise ProtocolError("wrong_type", "field %r must be %s" % (key, _names(kinds)))
    if isinstance(value, int) and not isinstance(value, bool):
        _int64(key, value)
    return value


def _int64(key: str, value: int) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise ProtocolError("bad_value", "%r is outside the signed 64-bit range" % key)
    return value


def _names(kinds: tuple) -> str:
    return " or ".join(k.__name__ for k in kinds)


def _finite(key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("wrong_type", "reading %r must be a number" % key)
    if isinstance(value, int):
        return _int64(key, value)
    if value != value or value in (_INF, -_INF):
        raise ProtocolError("not_finite", "reading %r is not a finite number" % key)
    return value


def _counters(msg: dict, key: str) -> dict:
    counters = _need(msg, key, (dict,))
    if len(counters) > MAX_FIELDS:
        raise ProtocolError("too_many_fields", "%r has more than %d entries" % (key, MAX_FIELDS))
    for name, value in counters.items():
        check_name("counter", name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError("counter_not_int", "counter %r must be an integer" % name)
        if value < 0:
            raise ProtocolError("counter_negative", "counter %r is negative" % name)
        _int64(name, value)
    return counters


def _seq(msg: dict) -> int:
    seq = _need(msg, "seq", (int,))
    if seq < 0:
        raise ProtocolError("bad_seq", "seq must be >= 0")
    return seq


def _ts(msg: dict) -> int:
    tq = msg.get("tq", 1)
    if isinstance(tq, bool) or tq not in (0, 1):
        raise ProtocolError("wrong_type", "field 'tq' must be 0 or 1")
    ts = msg.get("ts")
    if isinstance(ts, float) and ts == ts and ts not in (_INF, -_INF) and ts == int(ts):
        ts = int(ts)
    if isinstance(ts, bool) or not isinstance(ts, int):
        if "ts" not in msg:
            raise ProtocolError("missing_field", "field 'ts' is required")
        raise ProtocolError("wrong_type", "field 'ts' must be Unix milliseconds (integer)")
    if tq and not TS_MIN_MS <= ts <= TS_MAX_MS:
        raise ProtocolError("ts_absurd", "ts %d is outside 2020..2100 (Unix ms)" % ts)
    return ts


def _hexes(values, key: str) -> list:
    if not isinstance(values, list):
        raise ProtocolError("wrong_type", "field %r must be a list" % key)
    for h in values:
        if not isinstance(h, str) or len(h) != 16:
            raise ProtocolError("bad_hash", "%r entries must be 16 hex digits" % key)
        for ch in h:
            if ch not in _HEX:
                raise ProtocolError("bad_hash", "%r entries must be lower-case hex" % key)
    return values


# --- per-channel validation -------------------------------------------------


def _check_status(msg: dict) -> None:
    state = _need(msg, "state", (str,))
    if state not in STATES:
        raise ProtocolError("bad_value", "state must be one of %s" % ",".join(STATES))
    if state == "online":
        _ts(msg)
        _need(msg, "fw", (str,))
        _need(msg, "up", (int,))
        _need(msg, "heap", (int,))
        role = _need(msg, "role", (str,))
        if role not in ROLES:
            raise ProtocolError("bad_value", "role must be one of %s" % ",".join(ROLES))
        for key in HEALTH_FIELDS:
            if key in msg:
                _need(msg, key, (int,))


def _check_telemetry(msg: dict) -> None:
    _seq(msg)
    _ts(msg)
    counters = _counters(msg, "ct")
    readings = msg.get("rd", {})
    if not isinstance(readings, dict):
        raise ProtocolError("wrong_type", "field 'rd' must be an object")
    if len(readings) > MAX_FIELDS:
        raise ProtocolError("too_many_fields", "'rd' has more than %d entries" % MAX_FIELDS)
    for name in RESERVED_NAMES:
        if name in counters or name in readings:
            detail = "%r is a field of its own, not a counter or reading" % name
            raise ProtocolError("duplicate_field", detail)
    for name, value in readings.items():
        check_name("reading", name)
        if name in counters:
            raise ProtocolError("duplicate_field", "%r is both a counter and a reading" % name)
        _finite(name, value)


def _check_event(msg: dict) -> None:
    _seq(msg)
    _ts(msg)
    kind = _need(msg, "kind", (str,))
    if kind not in EVENT_KINDS:
        raise ProtocolError("bad_value", "kind must be one of %s" % ",".join(EVENT_KINDS))
    if kind == "badge":
        _need(msg, "ok", (bool,))
        _hexes([_need(msg, "badge", (str,))], "badge")
    if kind in ("session_start", "session_end"):
        _need(msg, "sid", (int,))
        _hexes([_need(msg, "badge", (str,))], "badge")
    if kind == "refused":
        _need(msg, "reason", (str,))
    if "ct" in msg:
        _counters(msg, "ct")
    for key in ("reason", "detail"):
        if key in msg and not isinstance(msg[key], str):
            raise ProtocolError("wrong_type", "field %r must be str" % key)


def _version(msg: dict) -> int:
    ver = _need(msg, "ver", (int,))
    if ver < 0:
        raise ProtocolError("bad_value", "ver must be >= 0")
    return ver


def _mac(msg: dict) -> None:
    # Its form only: the key is the node's (protocol/downlink.py checks it).
    mac = _need(msg, "mac", (str,))
    if len(mac) != MAC_HEX_DIGITS or mac.strip(_HEX):
        raise ProtocolError("bad_mac", "'mac' must be %d lower-case hex digits" % MAC_HEX_DIGITS)


def _check_acl(msg: dict) -> None:
    # protocol/acl.py parses the same rules straight into packed hashes (the
    # node, after protocol/downlink.py checked the MAC); tests/firmware/mp/
    # checks.py holds the two to the same answers.
    _version(msg)
    lists = [("allow", _need(msg, "allow", (list,)))]
    if "master" in msg:
        lists.append(("master", msg["master"]))
    total = 0
    for key, hashes in lists:
        _hexes(hashes, key)
        for k in range(1, len(hashes)):
            if hashes[k] < hashes[k - 1]:
                raise ProtocolError("not_sorted", "%r must be sorted" % key)
        total += len(hashes)
    if total > MAX_ACL_BADGES:
        raise ProtocolError("too_many_badges", "%d badges, limit %d" % (total, MAX_ACL_BADGES))
    _mac(msg)


def _check_cmd(msg: dict) -> None:
    op = _need(msg, "op", (str,))
    if op not in CMD_OPS:
        raise ProtocolError("bad_value", "op must be one of %s" % ",".join(CMD_OPS))
    _need(msg, "id", (int,))
    _version(msg)
    if "args" in msg and not isinstance(msg["args"], dict):
        raise ProtocolError("wrong_type", "field 'args' must be an object")
    _mac(msg)


_CHECKS = {
    "status": _check_status,
    "telemetry": _check_telemetry,
    "event": _check_event,
    "acl": _check_acl,
    "cmd": _check_cmd,
}


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


# CPython's json accepts NaN and Infinity, MicroPython's refuses them (and has
# no JSONDecoder): make both interpreters reject them the same way. One decoder
# built once: json.loads(..., parse_constant=...) would build one per call.
try:
    _DECODER = json.JSONDecoder(parse_constant=_no_constant)
except AttributeError:
    _DECODER = None  # type: ignore[assignment]


def _loads(text):
    return json.loads(text) if _DECODER is None else _DECODER.decode(text)


def decode(channel: str, payload) -> dict:
    """Bytes from the broker -> a validated message dict, or ProtocolError."""
    if channel not in _CHECKS:
        raise ProtocolError("bad_topic", "unknown channel %r" % channel)
    limit = MAX_ACL_PAYLOAD if channel == "acl" else MAX_PAYLOAD
    if len(payload) > limit:
        raise ProtocolError("too_large", "%d bytes, limit %d" % (len(payload), limit))
    try:
        text = payload if isinstance(payload, str) else str(payload, "utf-8")
        msg = _loads(text)
    except (ValueError, UnicodeError, RuntimeError):
        # RuntimeError: CPython's RecursionError on deep nesting ("[[[[..." within the limit).
        raise ProtocolError("not_json", "payload is not UTF-8 JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("not_object", "payload must be a JSON object")
    version = msg.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError("missing_field", "field 'v' (schema version) is required")
    if version != SCHEMA_VERSION:
        detail = "schema version %r, this build speaks %d" % (version, SCHEMA_VERSION)
        raise ProtocolError("bad_version", detail)
    _CHECKS[channel](msg)
    return msg


def encode(channel: str, msg: dict) -> bytes:
    """Validate then serialise, so a node can never send what the gateway rejects."""
    msg["v"] = SCHEMA_VERSION
    data = json.dumps(msg).encode()
    decode(channel, data)
    return data


# --- builders (what nodes and the api send) --------------------------------


def status_online(ts: int, role: str, fw: str, up: int, heap: int, tq: int = 1) -> dict:
    return {
        "v": SCHEMA_VERSION, "state": "online", "ts": ts, "tq": tq,
        "role": role, "fw": fw, "up": up, "heap": heap,
    }


def status_offline() -> dict:
    # The last will: registered at connect time, so it carries no timestamp.
    return {"v": SCHEMA_VERSION, "state": "offline"}


def telemetry(seq: int, ts: int, counters: dict, readings: dict, tq: int = 1) -> dict:
    return {"v": SCHEMA_VERSION, "seq": seq, "ts": ts, "tq": tq, "ct": counters, "rd": readings}


def event(seq: int, ts: int, kind: str, fields: dict, tq: int = 1) -> dict:
    msg = {"v": SCHEMA_VERSION, "seq": seq, "ts": ts, "tq": tq, "kind": kind}
    for key in fields:
        msg[key] = fields[key]
    return msg


# acl and cmd go out sealed: protocol.sign.seal(channel, key, message).
def acl(ver: int, allow: list, master: "list | None" = None) -> dict:
    msg = {"v": SCHEMA_VERSION, "ver": ver, "allow": sorted(allow)}
    if master:
        msg["master"] = sorted(master)
    return msg


def cmd(op: str, ident: int, ver: int, args: "dict | None" = None) -> dict:
    msg = {"v": SCHEMA_VERSION, "op": op, "id": ident, "ver": ver}
    if args:
        msg["args"] = args
    return msg
