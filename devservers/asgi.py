"""An ASGI app (the api) served by uvicorn in a thread of this process, on a
free loopback port: for tests and benchmarks that need real HTTP and still
want to reach the app's state directly."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from devservers.process import Closing, free_port, wait_for_http


class ThreadedApp(Closing):
    def __init__(self, app: Any, port: int | None = None, health: str = "/health") -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.thread.start()
        wait_for_http(self.url + health, 200, 60)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
