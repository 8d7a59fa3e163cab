"""A disk spool of line-protocol batches: one fsync'd file per batch, named by
a sequence number, drained oldest first. A batch is durable once `put`
returns, so the gateway may acknowledge its messages then.

Bounded: `put` refuses (SpoolFull) a batch that would take the spool over
`max_bytes`, except into an empty spool (one batch larger than the bound
would otherwise wait forever). Whatever else is in the folder (another name,
a directory, an empty file: nothing the spool wrote) is moved to
`quarantine/` at start with a log line, as is a spool file that cannot be
read later; none of it stops the gateway."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from gateway.files import free_name, sync_directory

SUFFIX = ".lp"
QUARANTINE = "quarantine"
_BATCH = re.compile(r"\d{16}\.lp")
_UNFINISHED = re.compile(r"\d{16}\.tmp")
# The spools of GATEWAY_WORKERS processes, left for those workers to drain.
_WORKER = re.compile(r"worker-\d+")

log = logging.getLogger("gateway.spool")


class SpoolFull(Exception):
    """The batch would take the spool over its bound: it stays unacknowledged."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._files: deque[Path] = deque()
        self._sizes: dict[Path, int] = {}
        self.bytes = 0
        self.quarantined = 0
        for path, size in sorted(self._scan()):
            self._files.append(path)
            self._sizes[path] = size
            self.bytes += size
        self._next = int(self._files[-1].stem) + 1 if self._files else 1

    def __len__(self) -> int:
        return len(self._files)

    def put(self, body: bytes) -> Path:
        with self._lock:
            if self._files and self.bytes + len(body) > self.max_bytes:
                raise SpoolFull(f"{self.bytes} + {len(body)} bytes, bound {self.max_bytes}")
            number = self._next
            self._next += 1
        final = self.directory / f"{number:016d}{SUFFIX}"
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        sync_directory(self.directory)
        with self._lock:
            self._files.append(final)
            self._sizes[final] = len(body)
            self.bytes += len(body)
        return final

    def oldest(self) -> tuple[Path, bytes] | None:
        while True:
            with self._lock:
                if not self._files:
                    return None
                path = self._files[0]
            try:
                return path, path.read_bytes()
            except OSError as exc:
                # Changed behind our back since the start: set it aside, go on.
                self._forget(path)
                self._quarantine(path, f"unreadable: {exc}")

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        sync_directory(self.directory)
        self._forget(path)

    def _forget(self, path: Path) -> None:
        with self._lock:
            if self._files and self._files[0] == path:
                self._files.popleft()
            elif path in self._files:
                self._files.remove(path)
            self.bytes -= self._sizes.pop(path, 0)

    def _scan(self) -> Iterator[tuple[Path, int]]:
        """The batches in the folder; everything else is dealt with here."""
        for entry in os.scandir(self.directory):
            path = self.directory / entry.name
            try:
                if entry.is_dir(follow_symlinks=False) and (
                    entry.name == QUARANTINE or _WORKER.fullmatch(entry.name)
                ):
                    if entry.name != QUARANTINE:
                        log.warning("a worker's spool left in place", extra={"path": str(path)})
                    continue
                regular = entry.is_file(follow_symlinks=False)
                if regular and _UNFINISHED.fullmatch(entry.name):
                    # A crash between write and rename: never acknowledged.
                    path.unlink()
                    log.info("unfinished spool file removed", extra={"file": entry.name})
                    continue
                if not _BATCH.fullmatch(entry.name):
                    self._quarantine(path, "not a spool file name")
                elif not regular:
                    self._quarantine(path, "not a regular file")
                elif (size := entry.stat(follow_symlinks=False).st_size) == 0:
                    self._quarantine(path, "empty")
                else:
                    yield path, size
            except OSError as exc:
                log.error("spool entry skipped", extra={"file": entry.name, "error": str(exc)})

    def _quarantine(self, path: Path, reason: str) -> None:
        try:
            folder = self.directory / QUARANTINE
            folder.mkdir(exist_ok=True)
            target = free_name(folder / path.name)
            os.rename(path, target)
            sync_directory(self.directory)
        except OSError as exc:
            log.error("spool entry not set aside; ignored",
                      extra={"file": path.name, "reason": reason, "error": str(exc)})
            return
        self.quarantined += 1
        log.warning("foreign file in the spool set aside",
                    extra={"file": path.name, "reason": reason, "moved_to": str(target)})
