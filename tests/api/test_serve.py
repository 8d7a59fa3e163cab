"""`python -m api` starts (wait for the database, migrate, seed) and serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devservers.process import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_api_serves_and_refuses_placeholders(database_url: str) -> None:
    port = free_port()
    env = {**os.environ, "API_DATABASE_URL": database_url, "API_PORT": str(port), "API_SITE": "ws1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api"], env=env, cwd=ROOT, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "api did not start"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert '<form id="login"' in httpx.get(f"http://127.0.0.1:{port}/").text
        assert httpx.get(f"http://127.0.0.1:{port}/members").status_code == 401
    finally:
        proc.terminate()
        proc.wait(20)
    production = {**env, "API_ENVIRONMENT": "production"}
    refused = subprocess.run(
        [sys.executable, "-m", "api"],
        env=production,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "API_SECRET_KEY is a placeholder" in refused.stderr
