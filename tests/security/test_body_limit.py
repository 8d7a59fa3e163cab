"""Oversized requests: a 20 MiB body is refused with 413 before it is read (declared
length) or as soon as the limit is passed (chunked), and the api's memory does not grow
by anything like the body; oversized fields are refused by the schemas."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Callable

import pytest

from tests.api.conftest import Api
from tests.security.conftest import ServedApi

BODY_MIB = 20
LIMIT = 1024 * 1024  # the default API_MAX_BODY_BYTES
CHUNK = b"x" * 65536


def _send_until_answered(port: int, head: bytes, chunked: bool) -> tuple[bytes, int]:
    """Sends `head`, then up to BODY_MIB of body, stopping as soon as the server answers
    (or closes); returns the answer and how many body bytes went out."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sent = 0
        while sent < BODY_MIB * 2**20:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_20_mib_body_gets_413_and_is_never_held(
    serve_api: Callable[..., ServedApi], chunked: bool
) -> None:
    api = serve_api()
    framing = (
        b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % (BODY_MIB * 2**20)
    )
    head = (
        b"POST /auth/token HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n%s\r\n\r\n"
        % framing
    )
    before = api.memory_kib("VmHWM")
    answer, sent = _send_until_answered(api.process.port, head, chunked)
    grown_kib = api.memory_kib("VmHWM") - before
    print(f"\n{BODY_MIB} MiB body: {sent // 1024} KiB sent before the 413, peak +{grown_kib} KiB")

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {
        "detail": f"request body over {LIMIT} bytes"
    }
    assert b"x-content-type-options: nosniff" in rest.lower()
    # The server stopped the body early and kept none of it.
    assert sent < BODY_MIB * 2**20 // 2, sent
    assert grown_kib < 4 * 1024, f"peak memory grew {grown_kib} KiB for a {BODY_MIB} MiB body"
    # ... and still serves.
    with socket.create_connection(("127.0.0.1", api.process.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")


def test_a_body_under_the_limit_is_parsed_as_usual(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=4096)
    near = {"username": "admin", "password": "x" * 3000}
    assert api.client.post("/auth/token", json=near).status_code == 422  # over max_length
    over = {"username": "admin", "password": "x" * 5000}
    response = api.client.post("/auth/token", json=over)
    assert response.status_code == 413, response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/token", {"username": "a" * 65, "password": "x"}, "username"),
        ("/auth/token", {"username": "admin", "password": "x" * 201}, "password"),
        ("/members", {"code": "M1", "name": "n" * 201}, "name"),
        ("/tariffs", {"name": "t", "bands": [{"name": f"b{i}"} for i in range(100)]}, "bands"),
        (
            "/bills/1/splits",
            {"manual": {"metered_kwh": {f"m{i}": {"peak": "1"} for i in range(2000)}}},
            "metered_kwh",
        ),
    ],
)
def test_oversized_fields_are_refused_by_the_schema(
    make_api: Callable[..., Api], path: str, body: dict[str, object], field: str
) -> None:
    api = make_api()
    before = api.counts()
    response = api.call("admin", "POST", path, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert api.counts() == before
