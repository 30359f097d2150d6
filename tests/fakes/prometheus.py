"""A small fake of Prometheus's instant-query API (``GET .../api/v1/query``) on loopback.

Real HTTP, so the adapter's client, timeouts and parsing are exercised for real. Answers
are canned per SLO id, which the fake reads from the ``sloth_id="..."`` matcher of the
query; an SLO with no canned answer gets an empty vector, as Prometheus would. (The real
Prometheus, over real SLO series, is in tests/change_mgmt/slo_gate/.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer

SAMPLE_TIME = 1795737600.0  # 2026-11-27T00:00:00Z
_SLO_ID = re.compile(r'sloth_id="([^"]+)"')


@dataclass(frozen=True)
class Answer:
    """One canned HTTP answer; build it with the class methods."""

    status: int
    body: bytes
    delay: float = 0.0
    content_type: str = "application/json"

    @classmethod
    def envelope(cls, payload: dict[str, Any], status: int = 200) -> Answer:
        return cls(status, json.dumps(payload).encode())

    @classmethod
    def vector(cls, *values: str) -> Answer:
        """A vector with one sample per value (one per instance); no values: empty."""
        result = [
            {"metric": {"instance": f"10.0.0.{i}:8067"}, "value": [SAMPLE_TIME, value]}
            for i, value in enumerate(values, start=1)
        ]
        return cls.envelope(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    @classmethod
    def value(cls, value: float | str) -> Answer:
        return cls.vector(str(value))

    @classmethod
    def empty(cls) -> Answer:
        return cls.vector()

    @classmethod
    def nan(cls) -> Answer:
        return cls.vector("NaN")

    @classmethod
    def scalar(cls, value: str) -> Answer:
        data = {"resultType": "scalar", "result": [SAMPLE_TIME, value]}
        return cls.envelope({"status": "success", "data": data})

    @classmethod
    def error(cls, status: int = 422, error_type: str = "execution", error: str = "boom") -> Answer:
        """Prometheus's error envelope (400 bad_data, 422 execution, 503 timeout...)."""
        body = {"status": "error", "errorType": error_type, "error": error}
        return cls.envelope(body, status)

    @classmethod
    def unavailable(cls) -> Answer:
        """What Prometheus says while starting up or shutting down: plain text, 503."""
        return cls(503, b"Service Unavailable", content_type="text/plain; charset=utf-8")

    @classmethod
    def slow(cls, seconds: float = 2.0, then: Answer | None = None) -> Answer:
        answer = then or cls.value(1.0)
        return cls(answer.status, answer.body, seconds, answer.content_type)

    @classmethod
    def not_json(cls) -> Answer:
        return cls(200, b"<html><body>Sign in to continue</body></html>", content_type="text/html")


@dataclass(frozen=True)
class Received:
    path: str
    query: str | None
    headers: dict[str, str]
    time: str | None = None
    """The ``time`` parameter (evaluation time), when the client sent one."""


class FakePrometheus(LoopbackServer):
    """``with FakePrometheus() as prom:`` serves ``prom.answers`` at ``prom.url``.

    ``answers`` maps an SLO id to an ``Answer``; ``requests``/``queries`` record what
    arrived. Any path ending in ``/api/v1/query`` is served, so base URLs with a path
    prefix (Prometheus behind a proxy) work too.
    """

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[Received] = []
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def queries(self) -> list[str | None]:
        return [request.query for request in self.requests]

    def answer_for(self, query: str | None) -> Answer:
        if query is None:
            return Answer.error(400, "bad_data", 'invalid parameter "query": no query given')
        match = _SLO_ID.search(query)
        answer = self.answers.get(match.group(1)) if match else None
        return answer or Answer.empty()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        fake: FakePrometheus = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        query = params.get("query", [None])[0]
        time = params.get("time", [None])[0]
        fake.requests.append(Received(url.path, query, dict(self.headers.items()), time))
        if not url.path.endswith("/api/v1/query"):
            answer = Answer(404, b"404 page not found", content_type="text/plain")
        else:
            answer = fake.answer_for(query)
        if answer.delay and fake.closing.wait(answer.delay):
            return  # shutting down: the client has long given up
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up

    def log_message(self, format: str, *args: Any) -> None:
        pass
