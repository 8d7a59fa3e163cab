"""A site's folder as an admin makes it: the shipped compose file, broker and
proxy configuration, and a `.env` from .env.example with every placeholder set."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def example_env(**values: str) -> str:
    """.env.example with a fresh secret for each placeholder (the badge key in
    hex), then `values` set over it."""
    text = (ROOT / ".env.example").read_text()
    text = re.sub(r"^(API_BADGE_HASH_KEY)=change-me$",
                  lambda m: f"{m.group(1)}={secrets.token_hex(32)}", text, flags=re.M)
    text = re.sub(r"^([A-Z0-9_]+)=change-me$",
                  lambda m: f"{m.group(1)}={secrets.token_urlsafe(18)}", text, flags=re.M)
    for name, value in values.items():
        text, count = re.subn(rf"^#? ?{name}=.*$", f"{name}={value}", text, flags=re.M)
        if not count:
            text += f"{name}={value}\n"
    return text


def make_site(folder: Path, env: str | None = None) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "docker-compose.yml", folder)
    for part in ("mosquitto", "caddy"):
        shutil.copytree(ROOT / "deploy" / part, folder / "deploy" / part)
    (folder / "dashboards").symlink_to(ROOT / "dashboards")
    (folder / ".env").write_text(example_env() if env is None else env)
    return folder


def env_value(folder: Path, name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", (folder / ".env").read_text(), re.M)
    assert match is not None, name
    return match.group(1)
