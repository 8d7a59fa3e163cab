"""`python -m api` starts (wait for the database, migrate, seed) and serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from api.settings import DEV_BADGE_KEY, Settings, settings_problem
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


def test_python_m_api_refuses_a_badge_key_the_nodes_would_read_differently(
    tmp_path: Path,
) -> None:
    """In every environment: the nodes hex-decode the key (protocol.badge), so a
    key in any other format would give hashes no node computes."""
    env = {
        **os.environ,
        "API_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}",
        "API_PORT": str(free_port()),
        "API_BADGE_HASH_KEY": "test-badge-key",
    }
    refused = subprocess.run(
        [sys.executable, "-m", "api"], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )
    assert refused.returncode == 2, refused.stderr
    assert "API_BADGE_HASH_KEY: the badge key has 14 characters" in refused.stderr
    assert "import secrets; print(secrets.token_hex(16))" in refused.stderr  # what to do
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "api.db").exists()  # refused before anything was made


@pytest.mark.parametrize(
    ("environment", "key", "problem"),
    [
        ("development", "change-me", "the badge key has 9 characters"),
        ("development", "zz" * 16, "hex digits only"),
        ("development", "abc" * 11, "even number"),
        ("production", "", "API_BADGE_HASH_KEY is not set"),
        ("production", DEV_BADGE_KEY, "published development key"),
    ],
)
def test_settings_refuse_a_bad_badge_key(environment: str, key: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(environment=environment, secret_key="s3cret-enough", badge_hash_key=key)
    assert problem in settings_problem(caught.value)
    assert "API_BADGE_HASH_KEY=<the output of" in settings_problem(caught.value)


def test_settings_read_the_key_as_the_nodes_do() -> None:
    key = "5F1C2A7B9E3D4C6A8B0F1E2D3C4B5A69"
    assert Settings(badge_hash_key=key).badge_key == bytes.fromhex(key)
    assert Settings(badge_hash_key="").badge_key == bytes.fromhex(DEV_BADGE_KEY)  # development
