# The allow-list of one machine, held as sorted 8-byte hashes in one buffer
# (1,000 badges = 8 KB) and searched by bisection: a set of str objects would
# take five times that on the ESP32. It is parsed into that buffer straight
# from the payload (protocol/acl.py), never through JSON objects.
import binascii

from protocol import acl as aclwire

HASH_BYTES = aclwire.HASH_BYTES


def pack(hashes) -> bytes:
    """Hex hashes (config masters, tests) -> sorted packed bytes."""
    raw = sorted(binascii.unhexlify(h) for h in hashes)
    return b"".join(raw)


class Acl:
    def __init__(self, ver: int = -1, allow=b"", master=b"", n_allow=-1, n_master=-1):
        """allow, master: packed sorted hashes; n_*: how many of them count
        (a buffer may be longer than its entries), all when -1."""
        self.ver = ver
        self._allow = allow
        self._n_allow = len(allow) // HASH_BYTES if n_allow < 0 else n_allow
        self._master = master
        self._n_master = len(master) // HASH_BYTES if n_master < 0 else n_master

    @classmethod
    def from_payload(cls, payload):
        """The ACL message as received (bytes or memoryview)."""
        ver, allow, n_allow, master, n_master = aclwire.unpack(payload)
        return cls(ver, allow, master, n_allow, n_master)

    @classmethod
    def from_hashes(cls, ver: int, allow, master=()):
        return cls(ver, pack(allow), pack(master))

    @property
    def known(self) -> bool:
        """False until an ACL has been received: then only master badges open."""
        return self.ver >= 0

    def __len__(self) -> int:
        return self._n_allow

    def allows(self, badge_hex: str) -> bool:
        key = binascii.unhexlify(badge_hex)
        return (_contains(self._allow, self._n_allow, key)
                or _contains(self._master, self._n_master, key))

    def is_master(self, badge_hex: str) -> bool:
        return _contains(self._master, self._n_master, binascii.unhexlify(badge_hex))


def _contains(packed, count: int, key: bytes) -> bool:
    lo = 0
    hi = count
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
        self._config_master = pack(config_master)

    def allowed(self, badge_hex: str) -> bool:
        master = self._config_master
        if _contains(master, len(master) // HASH_BYTES, binascii.unhexlify(badge_hex)):
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
