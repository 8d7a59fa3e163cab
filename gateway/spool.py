"""A disk spool of line-protocol batches: one fsync'd file per batch, named by
a sequence number, drained oldest first. A batch is durable once `put`
returns, so the gateway may acknowledge its messages then."""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path

SUFFIX = ".lp"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink()  # a crash between write and rename: never acknowledged
        self._lock = threading.Lock()
        self._files: deque[Path] = deque(sorted(self.directory.glob("*" + SUFFIX)))
        self._next = int(self._files[-1].stem) + 1 if self._files else 1

    def __len__(self) -> int:
        return len(self._files)

    def put(self, body: bytes) -> Path:
        with self._lock:
            number = self._next
            self._next += 1
        final = self.directory / f"{number:016d}{SUFFIX}"
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        self._sync_directory()
        with self._lock:
            self._files.append(final)
        return final

    def oldest(self) -> tuple[Path, bytes] | None:
        with self._lock:
            if not self._files:
                return None
            path = self._files[0]
        return path, path.read_bytes()

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._sync_directory()
        with self._lock:
            if self._files and self._files[0] == path:
                self._files.popleft()
            elif path in self._files:
                self._files.remove(path)

    def _sync_directory(self) -> None:
        # The rename or unlink is durable only once the directory is synced.
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
