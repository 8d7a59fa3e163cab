"""An app that has been served and shut down is freed. FastAPI keeps every
endpoint function in module-level caches, so an endpoint that closes over its
app kept each app (and its routes, a ~100,000-object graph) for good: the test
process grew by 600 MB over tests/api and its garbage collections took 2-3 s.

Checked in a process of its own: pytest's log capture keeps the records of a
test, and a record of the ACL sweep's error (no broker here) holds, through
its traceback, the sweep's frame and so the app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVE_AND_DROP = """
import gc, sys, weakref
from fastapi.testclient import TestClient
from api.main import create_app
from tests.api.conftest import make_settings

app = create_app(make_settings("sqlite:///" + sys.argv[1]))
with TestClient(app) as client:
    for path in ("/health", "/docs", "/docs/oauth2-redirect", "/"):
        assert client.get(path).status_code == 200, path
freed = weakref.ref(app)
del app, client
gc.collect()
print("alive" if freed() is not None else "freed")
"""


def test_a_served_app_is_freed_after_shutdown(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SERVE_AND_DROP, str(tmp_path / "api.db")],
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["freed"], done.stdout
