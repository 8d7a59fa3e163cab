"""Rejected messages: counted per reason, appended as JSON lines to a file and
published to `mf-deadletter/<original topic>`. Nothing here may raise."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol import wire

# Keep the file readable when someone sends megabytes of garbage.
MAX_KEPT_BYTES = 8192

log = logging.getLogger("gateway.deadletter")


def record(
    topic: str, payload: bytes, reason: str, detail: str, received_ms: int,
    keep_bytes: int | None = MAX_KEPT_BYTES,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "received_ms": received_ms,
        "topic": topic,
        "reason": reason,
        "detail": detail,
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


class DeadLetters:
    def __init__(
        self,
        path: Path,
        publish: Callable[[str, bytes], None],
        count: Callable[[str], None],
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._publish = publish
        self._count = count
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def reject(
        self, topic: str, payload: bytes, reason: str, detail: str,
        keep_bytes: int | None = MAX_KEPT_BYTES,
    ) -> None:
        """`keep_bytes` None keeps the whole payload (a batch InfluxDB refused)."""
        self._count(reason)
        now_ms = int(time.time() * 1000)
        text = json.dumps(record(topic, payload, reason, detail, now_ms, keep_bytes))
        # File and topic fail independently (a full disk must not stop the topic).
        try:
            with self._lock:
                self._file.write(text + "\n")
                self._file.flush()
        except Exception:
            log.exception("dead letter not written", extra={"reason": reason, "topic": topic})
        try:
            # A topic that is not valid UTF-8 cannot be republished under its name.
            self._publish(wire.deadletter_topic(topic or "invalid"), text.encode())
        except Exception:
            log.exception("dead letter not published", extra={"reason": reason, "topic": topic})

    def close(self) -> None:
        with self._lock:
            self._file.close()
