"""Rejected messages: counted per reason, appended as JSON lines to a file and
published to `mf-deadletter/<original topic>`. Nothing here may raise.

The file rotates: at `file_bytes` it becomes `<file>.1` (the older ones move
up to `<file>.<files - 1>`, the oldest is deleted and its records counted as
dropped). `sync()` makes every record appended so far durable: the gateway
calls it before it acknowledges the messages those records stand for."""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.files import sync_directory
from protocol import wire

# Keep the file readable when someone sends megabytes of garbage.
MAX_KEPT_BYTES = 8192
MAX_TOPIC_CHARS = 1024
MAX_DETAIL_CHARS = 2048

log = logging.getLogger("gateway.deadletter")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def record(
    topic: str, payload: bytes, reason: str, detail: str, received_ms: int,
    keep_bytes: int | None = MAX_KEPT_BYTES,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "received_ms": received_ms,
        "topic": _cut(topic, MAX_TOPIC_CHARS),
        "reason": reason,
        "detail": _cut(detail, MAX_DETAIL_CHARS),
        "bytes": len(payload),
    }
    kept = payload if keep_bytes is None else payload[:keep_bytes]
    try:
        entry["payload"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        entry["payload_b64"] = base64.b64encode(kept).decode("ascii")
    if len(kept) < len(payload):
        entry["truncated"] = True
    return entry


def fitted(entry: dict[str, Any], text: str, payload: bytes, limit: int) -> bytes:
    """The record as published: cut further until the broker takes it
    (wire.MAX_MESSAGE, its message size limit). JSON escapes can make a
    record of 8 KB of payload several times larger."""
    data = text.encode()
    keep = len(payload)
    while len(data) > limit and keep:
        keep //= 2
        smaller = record(entry["topic"], payload, entry["reason"], entry["detail"],
                         entry["received_ms"], keep)
        data = json.dumps(smaller).encode()
    return data


def republished_topic(topic: str) -> str:
    """mf-deadletter/<topic>, or mf-deadletter/invalid for a topic MQTT would
    not take back: not UTF-8 (given as ""), too long, or with wildcards or NUL
    (which a broker never delivers, but the gateway does not count on it)."""
    if not topic or len(topic) > MAX_TOPIC_CHARS or any(c in topic for c in "+#\x00"):
        topic = "invalid"
    return wire.deadletter_topic(topic)


class RotatingFile:
    """Appends lines; at `max_bytes` renames the file to `<name>.1` and the
    older ones up by one, keeping `files` in all (the oldest is deleted)."""

    def __init__(self, path: Path, max_bytes: int, files: int,
                 dropped: Callable[[int], None]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.files = files
        self._dropped = dropped
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._size = self._file.tell()
        self._unsynced = False

    def append(self, text: str) -> None:
        """`text` is ASCII (json.dumps' default), so characters are bytes."""
        if self._size and self._size + len(text) + 1 > self.max_bytes:
            self._rotate()
        self._file.write(text + "\n")
        self._file.flush()
        self._size += len(text) + 1
        self._unsynced = True

    def sync(self) -> None:
        if self._unsynced:
            os.fsync(self._file.fileno())
            self._unsynced = False

    def close(self) -> None:
        self.sync()
        self._file.close()

    def _rotate(self) -> None:
        self.close()
        try:
            oldest = self._numbered(self.files - 1)
            if oldest.exists():
                lost = oldest.read_bytes().count(b"\n")  # one file: file_bytes at most
                oldest.unlink()
                self._dropped(lost)
                log.warning("oldest dead letters dropped",
                            extra={"file": str(oldest), "records": lost})
            for n in range(self.files - 2, 0, -1):
                if self._numbered(n).exists():
                    os.replace(self._numbered(n), self._numbered(n + 1))
            os.replace(self.path, self._numbered(1))
            sync_directory(self.path.parent)
        finally:
            # Whatever failed above, appending goes on (into a new or the old file).
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            self._size = self._file.tell()

    def _numbered(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")


class DeadLetters:
    def __init__(
        self,
        file: RotatingFile,
        publish: Callable[[str, bytes], None],
        count: Callable[[str], None],
    ) -> None:
        self._file = file
        self._publish = publish
        self._count = count
        self._lock = threading.Lock()

    def reject(
        self, topic: str, payload: bytes, reason: str, detail: str,
        keep_bytes: int | None = MAX_KEPT_BYTES,
    ) -> None:
        """`keep_bytes` None keeps the whole payload (a line InfluxDB refused)."""
        self._count(reason)
        now_ms = int(time.time() * 1000)
        entry = record(topic, payload, reason, detail, now_ms, keep_bytes)
        text = json.dumps(entry)
        # File and topic fail independently (a full disk must not stop the topic).
        try:
            with self._lock:
                self._file.append(text)
        except Exception:
            log.exception("dead letter not written", extra={"reason": reason, "topic": topic})
        try:
            self._publish(republished_topic(topic), fitted(entry, text, payload, wire.MAX_MESSAGE))
        except Exception:
            log.exception("dead letter not published", extra={"reason": reason, "topic": topic})

    def sync(self) -> None:
        """Every record appended so far is on disk when this returns (or the
        failure is logged: the messages are acknowledged all the same, as
        they could never be stored)."""
        try:
            with self._lock:
                self._file.sync()
        except Exception:
            log.exception("dead letters not synced")

    def close(self) -> None:
        with self._lock:
            self._file.close()
