# Wi-Fi station: connects, watches the link, reconnects; and opens TCP (or
# TLS) streams for the MQTT client. MicroPython's getaddrinfo blocks the whole
# node for the DNS timeout, so the broker should be configured by IP address;
# a host name is resolved once per boot (the first connect) and cached.
import asyncio

import network

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

from firmware.drivers import port


class WifiLink:
    def __init__(self, ssid: str, password: str, hostname: str):
        self.ssid = ssid
        self.password = password
        self._resolved: dict = {}
        self._tls: Any = None  # (CA PEM, its SSLContext), made at the first TLS connect
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        try:
            network.hostname(hostname)
        except (AttributeError, ValueError, OSError):
            pass

    def isconnected(self) -> bool:
        return self.wlan.isconnected()

    def rssi(self) -> int:
        try:
            return int(self.wlan.status("rssi"))  # type: ignore[call-overload]  # 1.27 stubs: list
        except (OSError, ValueError):
            return 0

    async def keep_up(self) -> None:
        wait_ms = 1000
        while True:
            if not self.wlan.isconnected():
                try:
                    self.wlan.connect(self.ssid, self.password)
                except OSError:
                    pass
                for _ in range(20):
                    await port.sleep_ms(500)
                    if self.wlan.isconnected():
                        break
                wait_ms = min(wait_ms * 2, 60000) if not self.wlan.isconnected() else 1000
            await port.sleep_ms(wait_ms)

    def open_connection(self, host: str, tcp_port: int, tls=None):
        """tls: (the site CA's certificate, PEM; the name the server's
        certificate must hold), or None for plain TCP."""
        address = self._resolved.get(host)
        if address is None:
            import socket

            address = socket.getaddrinfo(host, tcp_port)[0][-1][0]  # an IP answers at once
            self._resolved[host] = address
        if tls is None:
            return asyncio.open_connection(address, tcp_port)
        return asyncio.open_connection(address, tcp_port, ssl=self._context(tls[0]),  # type: ignore[call-arg]
                                       server_hostname=tls[1])

    def _context(self, ca: str):
        """One context per boot: parsing the CA again on every reconnect would
        churn the heap. Only this CA is trusted (no bundle), the server's
        certificate is required and its name checked against server_hostname."""
        if self._tls is None or self._tls[0] is not ca:
            import tls

            context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            context.verify_mode = tls.CERT_REQUIRED  # type: ignore[attr-defined]  # 1.27 stubs lack it
            context.load_verify_locations(cadata=ca)
            self._tls = (ca, context)
        return self._tls[1]
