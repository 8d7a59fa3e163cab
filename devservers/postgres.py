"""PostgreSQL 15 in a temporary cluster. The server refuses to run as root, so
as root it runs as the `postgres` user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from devservers.process import DatabaseServer, find_binary

PG_BIN = "/usr/lib/postgresql/15/bin"


class PostgreSQL(DatabaseServer):
    name = "postgres"
    default_user = "workshop"
    default_password = "pg-secret"

    def __init__(self, workdir: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(workdir, *args, **kwargs)
        # As root, the cluster lives in its own folder owned by `postgres`: the
        # caller's temporary folder is usually private (0700) to root.
        self.home = Path(tempfile.mkdtemp(prefix="pg-")) if os.geteuid() == 0 else self.workdir
        self.datadir = self.home / "data"

    @property
    def url(self) -> str:
        return (
            f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{self.database}"
        )

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def prepare(self) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
        pwfile = self.home / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                *self._as_owner(),
                find_binary("initdb", f"{PG_BIN}/initdb"),
                "-D", str(self.datadir),
                "-U", self.user,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        pwfile.unlink()

    def command(self) -> list[str]:
        return [
            *self._as_owner(),
            find_binary("postgres", f"{PG_BIN}/postgres"),
            "-D", str(self.datadir),
            "-h", self.host,
            "-p", str(self.port),
            "-k", str(self.home),
            "-c", "fsync=off",
            "-c", "full_page_writes=off",
        ]

    def after_start(self) -> None:
        import time

        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host=self.host, port=self.port, user=self.user,
                    password=self.password, dbname="postgres", autocommit=True,
                ) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        self.stop()
        if self.home != self.workdir:
            shutil.rmtree(self.home, ignore_errors=True)
