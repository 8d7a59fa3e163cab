"""`python -m dashboards.push` against a small local HTTP server that records
requests and answers like Grafana's HTTP API. This stand-in is used ONLY for
the push command: no Grafana server can run on this machine. What is checked
is what the command sends (paths, auth, bodies), not Grafana's behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dashboards import ALERTS_DATASOURCE_UID, DATASOURCE_UID, JSON_DIR
from devservers import free_port

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self, deny: bool = False) -> None:
        self.requests: list[tuple[str, str, str | None, Any]] = []
        self.folders: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append(
                    (self.command, self.path, self.headers.get("Authorization"), body))
                return body

            def do_GET(self) -> None:
                self._record()
                if deny:
                    self._answer(401, {"message": "invalid API key"})
                elif self.path.startswith("/api/folders/"):
                    uid = self.path.rsplit("/", 1)[1]
                    if uid in outer.folders:
                        self._answer(200, {"uid": uid, "title": "Workshop monitor"})
                    else:
                        self._answer(404, {"message": "folder not found"})
                else:
                    self._answer(404, {"message": "not found"})

            def do_POST(self) -> None:
                body = self._record()
                if self.path == "/api/folders":
                    outer.folders.add(body["uid"])
                    self._answer(200, {"uid": body["uid"], "title": body["title"]})
                elif self.path == "/api/dashboards/db":
                    uid = body["dashboard"]["uid"]
                    self._answer(200, {"status": "success", "uid": uid, "url": f"/d/{uid}/x"})
                else:
                    self._answer(404, {"message": "not found"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


def push(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dashboards.push", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_push_creates_the_folder_and_every_dashboard(grafana: Recorder) -> None:
    done = push("--url", grafana.url, "--token", "glsa_test")
    assert done.returncode == 0, done.stderr
    posts = [r for r in grafana.requests if r[:2] == ("POST", "/api/dashboards/db")]
    assert {r[2] for r in grafana.requests} == {"Bearer glsa_test"}
    assert [r[:2] for r in grafana.requests[:2]] == [
        ("GET", "/api/folders/workshop-monitor"), ("POST", "/api/folders")]
    sent = {body["dashboard"]["uid"]: body for _, _, _, body in posts}
    files = {json.loads(p.read_text())["uid"]: json.loads(p.read_text())
             for p in JSON_DIR.glob("*.json")}
    assert sorted(sent) == sorted(files) and len(sent) == 5
    for uid, body in sent.items():
        assert body["folderUid"] == "workshop-monitor" and body["overwrite"] is True
        assert body["dashboard"]["id"] is None
        assert {k: v for k, v in body["dashboard"].items() if k != "id"} == files[uid]
    assert done.stdout.split() == sorted(f"/d/{uid}/x" for uid in files)
    # Pushing again finds the folder and does not create it twice.
    assert push("--url", grafana.url, "--token", "glsa_test").returncode == 0
    assert sum(r[:2] == ("POST", "/api/folders") for r in grafana.requests) == 1


def test_push_repoints_panels_at_other_datasources(grafana: Recorder) -> None:
    done = push("--url", grafana.url, "--token", "t", "--datasource-uid", "P951FEA4DE68E13C5",
                "--alerts-datasource-uid", "PALERTS0000000001")
    assert done.returncode == 0, done.stderr
    bodies = [b for m, p, _, b in grafana.requests if p == "/api/dashboards/db"]
    text = json.dumps(bodies)
    assert DATASOURCE_UID not in text and text.count("P951FEA4DE68E13C5") > 30
    assert ALERTS_DATASOURCE_UID not in text
    # The two alert panels (panel and target each name it).
    assert text.count("PALERTS0000000001") == 4


def test_push_reports_refusal_and_unreachable_grafana() -> None:
    denied = Recorder(deny=True)
    try:
        done = push("--url", denied.url, "--token", "wrong")
    finally:
        denied.close()
    assert done.returncode == 1 and "401" in done.stderr
    assert not [r for r in denied.requests if r[0] == "POST"]
    gone = push("--url", f"http://127.0.0.1:{free_port()}", "--token", "t", "--timeout", "2")
    assert gone.returncode == 1 and "cannot reach Grafana" in gone.stderr
