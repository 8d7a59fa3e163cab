# The door for commands: a `cmd` is acted on only when its MAC verifies with
# the node's key and its version is above every command taken before. That
# version is kept on flash (written before the command runs), so a replayed
# `config` or `relay_off` is refused after a reboot too.
from firmware.store import fsutil
from protocol import downlink, wire


class CommandGate:
    def __init__(self, folder: str, key: bytes, fs=None):
        self.fs = fs or fsutil.FS
        self.key = key
        self.path = folder + "/cmd.ver"
        self.ver = -1
        data = self.fs.read(self.path)
        if data:
            try:
                self.ver = int(data)
            except ValueError:
                pass  # never written half (atomic replace); a damaged file restarts at -1

    def open(self, payload) -> dict:
        """A received cmd payload -> the message to act on; downlink.Refused
        (bad_mac, stale) or wire.ProtocolError (signed but malformed)."""
        downlink.check("cmd", self.key, payload)
        msg = wire.decode("cmd", payload)
        ver = msg["ver"]
        if ver <= self.ver:
            detail = "command version %d, %d already taken" % (ver, self.ver)
            raise downlink.Refused("stale", detail)
        self.ver = ver
        self.fs.write_atomic(self.path, str(ver).encode())
        return msg
