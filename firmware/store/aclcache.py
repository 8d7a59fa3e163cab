# The last ACL received, kept on flash as the payload it came in, so that a
# node that boots without network still decides with the newest list it had.
from firmware.logic.acl import Acl
from firmware.store import fsutil
from protocol import wire


class AclCache:
    def __init__(self, folder: str):
        self.path = folder + "/acl.json"

    def load(self) -> Acl:
        data = fsutil.read(self.path)
        if data:
            try:
                return Acl.from_msg(wire.decode("acl", data))
            except (wire.ProtocolError, ValueError):
                pass  # a damaged cache counts as no ACL: deny all but masters
        return Acl()

    def save(self, payload) -> None:
        fsutil.write_atomic(self.path, payload)
