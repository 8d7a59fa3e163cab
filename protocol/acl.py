# The ACL payload parsed for a node with little RAM: straight from the bytes
# into one buffer of packed 8-byte hashes (8 KB for 1,000 badges), with no
# JSON objects and no copy of the payload. json.loads would hold a str object
# per badge (~48 bytes each on the ESP32) and the decoded text besides.
# The rules are wire.decode("acl", ...)'s; tests/firmware/mp/checks.py holds
# the two parsers to the same answers. Differences: the "mac" member is
# skipped here, because the node checks it on the raw bytes first
# (protocol/downlink.py); a hash written with JSON escapes ("\u0061...") is
# refused here; the api never writes one.
# MicroPython: no typing at run time.
import binascii

from protocol import wire

HASH_BYTES = 8
_HEX = b"0123456789abcdef"
_QUOTE = 0x22
_ENTRY_MIN = 19  # '"' + 16 hex digits + '"' + ','
_NOT_INT = -1 << 70  # below any int64: a "ver" that is not an integer


def unpack(payload) -> tuple:
    """ACL JSON (bytes or memoryview) -> (ver, allow, n_allow, master,
    n_master): allow and master are bytearrays of packed hashes, sorted.
    Raises wire.ProtocolError with the codes wire.decode uses."""
    n = len(payload)
    if n > wire.MAX_ACL_PAYLOAD:
        raise wire.ProtocolError("too_large", "%d bytes, limit %d" % (n, wire.MAX_ACL_PAYLOAD))
    b = payload if isinstance(payload, memoryview) else memoryview(payload)
    try:
        return _object(b, n)
    except IndexError:
        raise wire.ProtocolError("not_json", "payload is not UTF-8 JSON") from None


def _object(b, n: int) -> tuple:
    i = _ws(b, 0)
    if b[i] != 0x7B:  # {
        raise wire.ProtocolError("not_object", "payload must be a JSON object")
    version = ver = allow = master = None
    i = _ws(b, i + 1)
    if b[i] == 0x7D:  # }
        i += 1
    else:
        while True:
            start = i
            i = _string_end(b, i)
            key = bytes(b[start + 1 : i - 1])
            i = _ws(b, i)
            if b[i] != 0x3A:  # :
                raise IndexError
            i = _ws(b, i + 1)
            if key == b"allow" or key == b"master":
                name = key.decode()
                if b[i] != 0x5B:  # [
                    raise wire.ProtocolError("wrong_type", "field %r must be a list" % name)
                packed = _hashes(b, i + 1, n, name)
                i = packed[2]
                if key == b"allow":
                    allow = packed
                else:
                    master = packed
            elif key == b"v" or key == b"ver":
                number = _int(b, i)
                i = number[1]
                if key == b"v":
                    version = number[0]
                else:
                    ver = _NOT_INT if number[0] is None else number[0]
            else:
                i = _skip_value(b, i)
            i = _ws(b, i)
            if b[i] == 0x2C:  # ,
                i = _ws(b, i + 1)
                continue
            if b[i] != 0x7D:
                raise IndexError
            i += 1
            break
    if _ws(b, i) != n:
        raise IndexError
    return _checked(version, ver, allow, master)


def _checked(version, ver, allow, master) -> tuple:
    # In wire.decode's order, so both parsers name the same first problem.
    if version is None:
        raise wire.ProtocolError("missing_field", "field 'v' (schema version) is required")
    if version != wire.SCHEMA_VERSION:
        detail = "schema version %r, this build speaks %d" % (version, wire.SCHEMA_VERSION)
        raise wire.ProtocolError("bad_version", detail)
    if ver is None:
        raise wire.ProtocolError("missing_field", "field 'ver' is required")
    if ver == _NOT_INT:
        raise wire.ProtocolError("wrong_type", "field 'ver' must be int")
    if not wire.INT_MIN <= ver <= wire.INT_MAX:
        raise wire.ProtocolError("bad_value", "'ver' is outside the signed 64-bit range")
    if ver < 0:
        raise wire.ProtocolError("bad_value", "ver must be >= 0")
    if allow is None:
        raise wire.ProtocolError("missing_field", "field 'allow' is required")
    if master is None:
        master = (b"", 0, 0)
    for name, packed in (("allow", allow), ("master", master)):
        if packed[3:]:
            raise wire.ProtocolError(packed[3], packed[4] % name)
    total = allow[1] + master[1]
    if total > wire.MAX_ACL_BADGES:
        raise wire.ProtocolError("too_many_badges",
                                 "%d badges, limit %d" % (total, wire.MAX_ACL_BADGES))
    return ver, allow[0], allow[1], master[0], master[1]


def _hashes(b, i: int, n: int, name: str) -> tuple:
    """After '[': -> (packed, count, index after ']'[, code, detail]). A bad
    list does not raise at once: the caller raises in wire's order (every
    entry's form first, then the order, allow before master)."""
    cap = (n - i) // _ENTRY_MIN + 1  # no entry is shorter: no second buffer
    out = bytearray(cap * HASH_BYTES)
    count = 0
    fault = None
    unsorted = False
    prev = None
    i = _ws(b, i)
    if b[i] == 0x5D:  # ]
        return out, 0, i + 1
    while True:
        end = _string_end(b, i) if b[i] == _QUOTE else _skip_value(b, i)
        if fault is None:
            if end - i != 18 or b[i] != _QUOTE:
                fault = ("bad_hash", "%r entries must be 16 hex digits")
            else:
                digits = bytes(b[i + 1 : i + 17])
                if digits.strip(_HEX):
                    fault = ("bad_hash", "%r entries must be lower-case hex")
                else:
                    unsorted = unsorted or (prev is not None and digits < prev)
                    at = count * HASH_BYTES
                    out[at : at + HASH_BYTES] = binascii.unhexlify(digits)
                    count += 1
                    prev = digits
        i = _ws(b, end)
        if b[i] == 0x2C:
            i = _ws(b, i + 1)
            continue
        if b[i] != 0x5D:
            raise IndexError
        if fault is None and unsorted:
            fault = ("not_sorted", "%r must be sorted")
        if fault is None:
            return out, count, i + 1
        return out, count, i + 1, fault[0], fault[1]


def _ws(b, i: int) -> int:
    n = len(b)
    while i < n and b[i] in (0x20, 0x09, 0x0A, 0x0D):
        i += 1
    return i


def _string_end(b, i: int) -> int:
    """b[i] is '"': -> the index after the closing quote."""
    if b[i] != _QUOTE:
        raise IndexError
    i += 1
    while True:
        c = b[i]
        if c == _QUOTE:
            return i + 1
        i += 2 if c == 0x5C else 1  # a backslash escapes the next character


def _int(b, i: int) -> tuple:
    """-> (int or None when the value is not an integer, index after it)."""
    start = i
    if b[i] == 0x2D:  # -
        i += 1
    digits = i
    n = len(b)
    while i < n and 0x30 <= b[i] <= 0x39:
        i += 1
    if i == digits or (i < n and b[i] in (0x2E, 0x65, 0x45)):  # . e E: not an int
        return None, _skip_value(b, start)
    return int(bytes(b[start:i])), i


def _skip_value(b, i: int) -> int:
    """Any JSON value -> the index after it (strings, numbers, literals,
    nested arrays and objects)."""
    c = b[i]
    if c == _QUOTE:
        return _string_end(b, i)
    if c == 0x5B or c == 0x7B:
        depth = 0
        while True:
            c = b[i]
            if c == _QUOTE:
                i = _string_end(b, i)
                continue
            if c == 0x5B or c == 0x7B:
                depth += 1
            elif c == 0x5D or c == 0x7D:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    start = i
    n = len(b)
    while i < n and b[i] not in (0x2C, 0x7D, 0x5D, 0x20, 0x09, 0x0A, 0x0D):
        i += 1
    if i == start:
        raise IndexError
    return i
