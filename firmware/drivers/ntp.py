# SNTP (RFC 4330) without blocking the event loop: one UDP query on a
# non-blocking socket, polled between asyncio sleeps for up to a second.
#
# The time comes from the site server on the LAN (the MQTT broker's host by
# default, `ntp_host` in the config otherwise): it answers while the internet
# is down, where pool.ntp.org would not, and its name (if it has one, not an
# IP address) is resolved once per boot, because MicroPython's getaddrinfo
# blocks the whole node for the DNS timeout.
import struct

NTP_TO_UNIX_S = 2208988800  # 1900-01-01 to 1970-01-01
WAIT_MS = 1000
POLL_MS = 20


class Ntp:
    def __init__(self, port, default_host: str, server_port: int = 123):
        self.port = port
        self.default_host = default_host
        self.server_port = server_port
        self._addresses: dict = {}
        self._query = bytearray(48)
        self._query[0] = 0x1B  # LI 0, version 3, mode 3 (client)

    def _address(self, host: str):
        address = self._addresses.get(host)
        if address is None:
            import socket

            found = socket.getaddrinfo(host, self.server_port, socket.AF_INET, socket.SOCK_DGRAM)
            address = found[0][-1]
            self._addresses[host] = address
        return address

    async def unix_ms(self, host: str):
        """Unix ms from the server, or None (no answer, or it is not synchronised)."""
        import socket

        port = self.port
        try:
            address = self._address(host or self.default_host)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except (OSError, IndexError):
            return None
        try:
            sock.setblocking(False)
            sent = port.ticks_ms()
            sock.sendto(self._query, address)
            while True:
                try:
                    data = sock.recv(48)
                    break
                except OSError:
                    pass  # EAGAIN: nothing yet
                if port.ticks_diff(port.ticks_ms(), sent) >= WAIT_MS:
                    return None
                await port.sleep_ms(POLL_MS)
            half_trip = port.ticks_diff(port.ticks_ms(), sent) // 2
        except OSError:
            return None
        finally:
            sock.close()
        # Leap indicator 3 = not synchronised; stratum 0 = kiss-o'-death.
        if len(data) < 48 or data[0] >> 6 == 3 or data[1] == 0:
            return None
        seconds, fraction = struct.unpack("!II", data[40:48])
        return (seconds - NTP_TO_UNIX_S) * 1000 + (fraction * 1000 >> 32) + half_trip
