# The allow-list of one machine, held as sorted 8-byte hashes in one buffer
# (1,000 badges = 8 KB) and searched by bisection: a set of str objects would
# take five times that on the ESP32. It is parsed into that buffer straight
# from the payload (protocol/acl.py), never through JSON objects.
import binascii

from protocol import acl as aclwire

HASH_BYTES = aclwire.HASH_BYTES
# What Decider.offer did with an ACL.
TAKEN = 1
SAME = 0  # the one held, again: the broker resends its retained copy on every connect
STALE = -1  # not newer than the one held: a replay, or two publishes that crossed


def pack(hashes) -> bytes:
    """Hex hashes (config masters, tests) -> sorted packed bytes."""
    raw = sorted(binascii.unhexlify(h) for h in hashes)
    return b"".join(raw)


class Acl:
    def __init__(self, ver: int = -1, allow=b"", master=b"", n_allow=-1, n_master=-1, mac=b""):
        """allow, master: packed sorted hashes; n_*: how many of them count
        (a buffer may be longer than its entries), all when -1; mac: the
        verified MAC of the message it came in (protocol/downlink.py)."""
        self.ver = ver
        self.mac = mac
        self._allow = allow
        self._n_allow = len(allow) // HASH_BYTES if n_allow < 0 else n_allow
        self._master = master
        self._n_master = len(master) // HASH_BYTES if n_master < 0 else n_master

    @classmethod
    def from_payload(cls, payload, mac=b""):
        """The ACL message as received (bytes or memoryview), its MAC checked."""
        ver, allow, n_allow, master, n_master = aclwire.unpack(payload)
        return cls(ver, allow, master, n_allow, n_master, mac)

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

    def offer(self, acl: Acl) -> int:
        """An ACL whose MAC verified -> TAKEN when its version is newer than
        the one held, SAME for the held one again, STALE otherwise (an older
        version, or the same version with other contents). Versions only grow
        (a restored api database raises its epoch), so an older one is never
        taken: replaying a list from before a revocation opens nothing."""
        held = self.acl
        if acl.ver == held.ver and acl.mac == held.mac:
            return SAME
        if acl.ver <= held.ver:
            return STALE
        self.acl = acl
        return TAKEN
