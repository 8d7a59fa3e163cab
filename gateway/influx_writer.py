"""Posts line-protocol batches to InfluxDB's v1 `/write` (precision ms).

influxdb-client's write API speaks /api/v2/write, which InfluxDB 1.x answers
with 404, so this is a plain HTTP client."""

from __future__ import annotations

import httpx

from gateway.settings import Settings


class InfluxUnavailable(Exception):
    """Worth retrying later: down, timing out, 5xx, or refusing our credentials."""


class InfluxRejected(Exception):
    """InfluxDB read the batch and refused (some of) it: retrying cannot help."""


class InfluxWriter:
    def __init__(self, settings: Settings) -> None:
        auth = None
        if settings.influx_username:
            auth = (settings.influx_username, settings.influx_password.get_secret_value())
        self._url = settings.write_url
        self._params = {"db": settings.influx_database, "precision": "ms"}
        self._client = httpx.Client(auth=auth, timeout=settings.influx_timeout_s)

    def write(self, body: bytes) -> None:
        try:
            response = self._client.post(self._url, params=self._params, content=body)
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 204:
            return
        text = response.text[:500]
        # 400: bad line protocol or a field type conflict (InfluxDB stored the
        # other points of the batch). Everything else may heal: a restarting
        # server, a database or user not created yet.
        if response.status_code == 400:
            raise InfluxRejected(text)
        raise InfluxUnavailable(f"HTTP {response.status_code}: {text}")

    def close(self) -> None:
        self._client.close()
