"""Drive a real headless Chromium through the DevTools protocol (a minimal
WebSocket client over the standard library: no browser downloads, no extra
packages)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

CHROMIUM = "/usr/bin/chromium"


class WebSocket:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def send(self, text: str) -> None:
        data = text.encode()
        header = bytearray([0x81])
        if len(data) < 126:
            header.append(0x80 | len(data))
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("websocket closed")
            buf += chunk
        return buf

    def recv(self) -> str:
        message = b""
        while True:
            first, second = self._exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(length)
            if first & 0x0F in (0x1, 0x0):
                message += payload
                if first & 0x80:
                    return message.decode()

    def close(self) -> None:
        self.sock.close()


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, profile: Path) -> None:
        self.proc = subprocess.Popen(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--no-first-run",
                f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(p for p in pages if p["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.ids = itertools.count(1)
        # Script errors, console.error lines and the browser's own errors (a refused
        # Content-Security-Policy, a failed load) the page produced: a test asserts none.
        self.errors: list[str] = []
        self.call("Runtime.enable")
        self.call("Page.enable")
        self.call("Log.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            self._note(message)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(message["error"])
                result: dict[str, Any] = message["result"]
                return result

    def _note(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description") or details))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            # A 4xx/5xx the page asked for and shows in words is not a page error.
            if entry.get("source") != "network":
                self.errors.append(f"{entry.get('source')}: {entry.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in
                                        params.get("args", [])))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(f"document.readyState === 'complete' && location.href.startsWith({url!r})")

    def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                said = self.evaluate("[...document.querySelectorAll('.error, [role=alert]')]"
                                     ".map(e => e.textContent).filter(Boolean).join(' | ')")
                raise TimeoutError(f"page never satisfied: {expression} (page says: {said!r}; "
                                   f"script errors: {self.errors})")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """Click the element (a button, a link) as a user would, by its selector."""
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false;"
            " e.scrollIntoView({block: 'center'}); e.click(); return true; })()"
        )
        if not found:
            raise LookupError(f"nothing on the page matches {selector}")

    def fill(self, selector: str, value: str) -> None:
        """Type into an input or choose an option, firing the events a user's typing fires."""
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false;"
            f" e.focus(); e.value = {value!r};"
            " e.dispatchEvent(new Event('input', {bubbles: true}));"
            " e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"
        )
        if not found:
            raise LookupError(f"nothing on the page matches {selector}")

    def type(self, text: str) -> None:
        """Text into whatever has the keyboard focus."""
        self.call("Input.insertText", text=text)

    def press(self, key: str) -> None:
        """A key (Tab, Enter, ...) through the browser's own input pipeline."""
        codes = {"Tab": 9, "Enter": 13, "Escape": 27, " ": 32}
        extra: dict[str, Any] = {"windowsVirtualKeyCode": codes.get(key, 0), "code": key}
        if key == "Enter":
            extra["text"] = "\r"
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, **extra)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, **extra)

    def allow_downloads(self, folder: Path) -> None:
        self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(folder))

    def screenshot(self, path: Path, width: int, height: int = 900) -> None:
        """The whole page as a PNG at a window `width` CSS pixels wide (390: a phone)."""
        mobile = width < 600
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)
        self.evaluate("new Promise(r => { window.dispatchEvent(new Event('resize'));"
                      " requestAnimationFrame(() => requestAnimationFrame(r)); })")
        metrics = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": width, "height": min(metrics["height"], 8000), "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
