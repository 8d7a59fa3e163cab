# The allow-list of one machine, held as sorted 8-byte hashes in one bytes
# object (800 badges = 6.4 KB) and searched by bisection: a set of 800 str
# objects would take five times that on the ESP32.
import binascii

HASH_BYTES = 8


def _pack(hashes) -> bytes:
    raw = sorted(binascii.unhexlify(h) for h in hashes)
    return b"".join(raw)


class Acl:
    def __init__(self, ver: int = -1, allow=(), master=()):
        self.ver = ver
        self._allow = _pack(allow)
        self._master = _pack(master)

    @classmethod
    def from_msg(cls, msg: dict):
        return cls(msg["ver"], msg["allow"], msg.get("master", ()))

    @property
    def known(self) -> bool:
        """False until an ACL has been received: then only master badges open."""
        return self.ver >= 0

    def __len__(self) -> int:
        return len(self._allow) // HASH_BYTES

    def allows(self, badge_hex: str) -> bool:
        key = binascii.unhexlify(badge_hex)
        return _contains(self._allow, key) or _contains(self._master, key)

    def is_master(self, badge_hex: str) -> bool:
        return _contains(self._master, binascii.unhexlify(badge_hex))


def _contains(packed: bytes, key: bytes) -> bool:
    lo = 0
    hi = len(packed) // HASH_BYTES
    while lo < hi:
        mid = (lo + hi) // 2
        at = mid * HASH_BYTES
        probe = packed[at : at + HASH_BYTES]
        if probe == key:
            return True
        if probe < key:
            lo = mid + 1
        else:
            hi = mid
    return False


class Decider:
    """A badge hash -> allowed? Master badges from the config open even before
    the first ACL arrives (the commissioning case); without them a node that
    never received an ACL denies everyone."""

    def __init__(self, acl: Acl, config_master=()):
        self.acl = acl
        self._config_master = _pack(config_master)

    def allowed(self, badge_hex: str) -> bool:
        if _contains(self._config_master, binascii.unhexlify(badge_hex)):
            return True
        return self.acl.allows(badge_hex)

    def replace(self, acl: Acl) -> bool:
        """Take an ACL of another version. The api's version is authoritative:
        a lower one also replaces (its database was restored from a backup);
        the same version again (the retained copy on every reconnect) does not."""
        if acl.ver == self.acl.ver:
            return False
        self.acl = acl
        return True
