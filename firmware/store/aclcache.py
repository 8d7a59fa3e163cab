# The last ACL received, kept on flash as the payload it came in, so that a
# node that boots without network still decides with the newest list it had.
from firmware.logic.acl import Acl
from firmware.store import fsutil
from protocol import wire


class AclCache:
    def __init__(self, folder: str, fs=None):
        self.fs = fs or fsutil.FS
        self.path = folder + "/acl.json"

    def load(self) -> Acl:
        data = self.fs.read(self.path)
        if data:
            try:
                return Acl.from_payload(data)
            except (wire.ProtocolError, ValueError):
                pass  # a damaged cache counts as no ACL: deny all but masters
        return Acl()

    def save(self, payload) -> None:
        self.fs.write_atomic(self.path, payload)
