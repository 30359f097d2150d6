"""A fake Mattermost incoming webhook on loopback that records what it received.

``with FakeWebhook() as hook:`` serves ``POST /hooks/<token>`` at ``hook.url`` like
Mattermost: a JSON body with a non-empty ``text`` is accepted (``200 ok``), a bad body
is a 400 with Mattermost's error JSON, and an unknown hook id is a 400 "Invalid
webhook". Faults are queued with :meth:`FakeWebhook.fail_next` (a status to answer) or
:meth:`FakeWebhook.stall_next` (answer nothing until the client gives up); an injected
failure's error body echoes the request path, secret token included (as some proxies
do), so tests prove the poster never repeats it. Every
accepted message is in :attr:`FakeWebhook.messages`; every request, good or bad, in
:attr:`FakeWebhook.requests`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer

TOKEN = "whtoken5ecr3tpath4d9c7e1b2a"
"""The hook id: recognisable, so tests can assert it never leaks into any output."""


@dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeWebhook(LoopbackServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(_Handler)
        self.token = token
        self.requests: list[Received] = []
        self.messages: list[dict[str, Any]] = []
        self._faults: deque[int | str] = deque()
        self.delay_seconds = 0.0
        """How long every answer takes (to make concurrent clients overlap)."""
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/{self.token}"

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` posts with ``status`` (nothing is accepted)."""
        with self._lock:
            self._faults.extend([status] * times)

    def stall_next(self, times: int = 1) -> None:
        """Answer the next ``times`` posts only when the server stops (a hung webhook)."""
        with self._lock:
            self._faults.extend(["stall"] * times)

    def texts(self) -> list[str]:
        with self._lock:
            return [str(message["text"]) for message in self.messages]

    def _receive(self, received: Received) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(received)
            fault = self._faults.popleft() if self._faults else None
        if self.delay_seconds:
            self.closing.wait(self.delay_seconds)
        if fault == "stall":
            self.closing.wait(30)
            return 503, b"stalled"
        if isinstance(fault, int):
            return fault, _error(f"injected failure {fault} for {received.path}")
        if received.path != f"/hooks/{self.token}":
            return 400, _error("Invalid webhook")
        try:
            payload = received.json()
        except ValueError:
            return 400, _error("Unable to parse incoming data")
        if not isinstance(payload, dict) or not str(payload.get("text") or "").strip():
            return 400, _error("No text specified")
        with self._lock:
            self.messages.append(payload)
        return 200, b"ok"


def _error(message: str) -> bytes:
    return json.dumps(
        {"id": "web.incoming_webhook.error", "message": message, "status_code": 400}
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one answer, two writes: no delayed-ACK stall

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        fake: FakeWebhook = self.server.fake  # type: ignore[attr-defined]
        status, answer = fake._receive(
            Received(self.path, self.headers.get("Content-Type", ""), body)
        )
        # A client that gave up (the slow-answer tests) has closed its end: nothing to say.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if status == 200 else "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output stays readable."""
