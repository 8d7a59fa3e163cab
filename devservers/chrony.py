"""chronyd as an NTP server on a loopback UDP port, serving this machine's
clock (`local stratum`, as a site server keeps serving with the internet
down) without touching it (-x)."""

from __future__ import annotations

import socket
import struct
import time

from devservers.process import ServerProcess, find_binary

NTP_TO_UNIX_S = 2208988800


def query(host: str, port: int, timeout: float = 1.0) -> float:
    """One SNTP query -> the server's Unix time in seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(b"\x1b" + bytes(47), (host, port))
        data = sock.recv(48)
    seconds, fraction = struct.unpack("!II", data[40:48])
    return seconds - NTP_TO_UNIX_S + fraction / 2**32


class Chrony(ServerProcess):
    name = "chronyd"
    tcp = False

    def prepare(self) -> None:
        self.conf_path = self.workdir / "chrony.conf"
        self.conf_path.write_text(
            f"port {self.port}\n"
            f"bindaddress {self.host}\n"
            f"allow {self.host}\n"
            "local stratum 8\n"
            "cmdport 0\n"
            f"pidfile {self.workdir / 'chronyd.pid'}\n"
            f"driftfile {self.workdir / 'drift'}\n"
        )

    def command(self) -> list[str]:
        # -d: foreground; -x: never set the system clock; -U: no root checks.
        return [find_binary("chronyd", "/usr/sbin/chronyd"), "-d", "-x", "-U",
                "-f", str(self.conf_path)]

    def after_start(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                query(self.host, self.port, 0.5)
                return
            except OSError:
                if time.monotonic() > deadline or not self.running:
                    raise
                time.sleep(0.1)
