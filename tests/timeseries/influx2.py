"""A small real HTTP server that answers `POST /write` as InfluxDB 2.x's
v1-compatibility API does, for the failures InfluxDB 1.6 cannot show (2.x
cannot run here). It keeps the points it accepts, by identity (measurement,
tags, time), and the type of each field per measurement.

The answers modelled, from influxdata/influxdb v2 (http/legacy/write_handler.go
`handleWrite`, http/points/points_parser.go, kit/platform/errors' JSON
encoding) and its docs ("Troubleshoot issues writing data", v2.7):

- every line stored: `204`, no body;
- a line that does not parse: `400`, nothing stored (2.x parses the whole
  body before writing), body
  `{"code":"invalid","message":"unable to parse '<line>': <why>"}`
  (one such sentence per bad line, joined by newlines, as models.ParsePoints does);
- a body over its batch size limit (`WithMaxBatchSizeBytes`): `413`,
  `{"code":"request too large","message":"unable to read data: points batch
  is too large"}`, nothing stored;
- points refused by the storage engine (a field type conflict), the others
  stored: `422`, body `{"code":"unprocessable entity","message":"failure
  writing points to database: partial write: field type conflict: input field
  \\"<f>\\" on measurement \\"<m>\\" is type <new>, already exists as type <old>
  dropped=<n>"}`, header `X-Platform-Error-Code: unprocessable entity`.
  (Telegraf's log of a real 2.x: "422 Unprocessable Entity: unprocessable
  entity: failure writing points to database: partial write: field type
  conflict: input field "longitude" on measurement "device_metric" is type
  float, already exists as type string dropped=1224".)

The line parser reads the line protocol the project writes (timeseries/lines):
measurement and tags without escapes, fields of every type, a time."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_INT = re.compile(r"-?\d+i")
_BOOL = {"t": True, "T": True, "true": True, "True": True, "TRUE": True,
         "f": False, "F": False, "false": False, "False": False, "FALSE": False}

Point = tuple[str, tuple[tuple[str, str], ...], int]


class ParseError(ValueError):
    pass


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes (a backslash escapes in quotes)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quoted:
        raise ParseError("unbalanced quotes")
    parts.append("".join(current))
    return parts


def _value(text: str) -> tuple[str, Any]:
    if _INT.fullmatch(text):
        return "integer", int(text[:-1])
    if text in _BOOL:
        return "boolean", _BOOL[text]
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return "string", text[1:-1]
    try:
        return "float", float(text)
    except ValueError:
        raise ParseError("invalid number") from None


def parse(line: str) -> tuple[str, tuple[tuple[str, str], ...], dict[str, tuple[str, Any]], int]:
    parts = _split(line, " ")
    if len(parts) != 3:
        raise ParseError("missing fields" if len(parts) < 2 else "bad timestamp")
    key, fields_text, time_text = parts
    name, *tag_texts = key.split(",")
    if not name:
        raise ParseError("missing measurement")
    tags = []
    for tag in tag_texts:
        tag_key, _, tag_value = tag.partition("=")
        if not tag_key or not tag_value:
            raise ParseError("missing tag value")
        tags.append((tag_key, tag_value))
    fields = {}
    for field in _split(fields_text, ","):
        field_key, eq, text = field.partition("=")
        if not field_key or not eq or not text:
            raise ParseError("missing field value")
        fields[field_key] = _value(text)
    if not re.fullmatch(r"-?\d+", time_text):
        raise ParseError("bad timestamp")
    return name, tuple(sorted(tags)), fields, int(time_text)


class Influx2:
    """`with Influx2() as server:` serves on 127.0.0.1 at `server.url`."""

    database = "workshop"
    user = "gateway"
    password = "influx2-secret"

    def __init__(self, max_body: int = 0) -> None:
        self.max_body = max_body  # 0: no limit
        self.points: dict[Point, dict[str, Any]] = {}
        self.types: dict[tuple[str, str], str] = {}
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Influx2:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, measurement: str) -> int:
        with self._lock:
            return sum(1 for point in self.points if point[0] == measurement)

    def write(self, body: str) -> tuple[int, dict[str, str] | None]:
        """(status, JSON body) for a /write request, storing what 2.x would."""
        with self._lock:
            self.requests += 1
        if self.max_body and len(body.encode()) > self.max_body:
            message = "unable to read data: points batch is too large"
            return 413, {"code": "request too large", "message": message}
        parsed, failed = [], []
        for line in body.split("\n"):
            if not line.strip():
                continue
            try:
                parsed.append(parse(line.strip()))
            except ParseError as exc:
                failed.append(f"unable to parse '{line.strip()}': {exc}")
        if failed:
            return 400, {"code": "invalid", "message": "\n".join(failed)}
        conflicts: list[str] = []
        with self._lock:
            for name, tags, fields, at in parsed:
                conflict = next(
                    (f'input field "{key}" on measurement "{name}" is type {kind}, '
                     f"already exists as type {self.types[(name, key)]}"
                     for key, (kind, _) in fields.items()
                     if self.types.get((name, key), kind) != kind),
                    None,
                )
                if conflict:
                    conflicts.append(conflict)
                    continue
                for key, (kind, _) in fields.items():
                    self.types[(name, key)] = kind
                stored = self.points.setdefault((name, tags, at), {})
                stored.update({key: value for key, (_, value) in fields.items()})
        if conflicts:
            message = (f"failure writing points to database: partial write: field type "
                       f"conflict: {conflicts[0]} dropped={len(conflicts)}")
            return 422, {"code": "unprocessable entity", "message": message}
        return 204, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                answer: dict[str, str] | None
                if not self.path.startswith("/write"):
                    status, answer = 404, {"code": "not found", "message": "path not found"}
                else:
                    status, answer = server.write(body)
                self.send_response(status)
                self.send_header("X-Influxdb-Build", "OSS")
                self.send_header("X-Influxdb-Version", "v2.7.12")
                if answer is None:
                    self.end_headers()
                    return
                data = json.dumps(answer).encode()
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("X-Platform-Error-Code", answer["code"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
