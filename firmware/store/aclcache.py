# The last ACL taken, kept on flash as the payload it came in (MAC included),
# so that a node that boots without network still decides with the newest
# list it had, and still refuses an older one (its version is the node's
# watermark: docs/firmware.md, Access control).
from firmware.logic.acl import Acl
from firmware.store import fsutil
from protocol import downlink, wire


class AclCache:
    def __init__(self, folder: str, fs=None):
        self.fs = fs or fsutil.FS
        self.path = folder + "/acl.json"
        self.refused = ""  # why a cached ACL was not taken at load, for the boot report

    def load(self, key: bytes) -> Acl:
        """The cached ACL if its MAC verifies with `key` (a node given a new
        key drops the list signed with the old one); else none, which denies
        all but the config's masters until the retained ACL arrives."""
        data = self.fs.read(self.path)
        if data:
            try:
                return Acl.from_payload(data, downlink.check("acl", key, data))
            except downlink.Refused as exc:
                self.refused = "cached ACL: " + exc.detail
            except (wire.ProtocolError, ValueError):
                pass  # a damaged cache counts as no ACL
        return Acl()

    def save(self, payload) -> None:
        self.fs.write_atomic(self.path, payload)
