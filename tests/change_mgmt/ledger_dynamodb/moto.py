"""One moto server per test process, on loopback, speaking DynamoDB over real HTTP.

Started on first use and stopped at exit, so every test (and every parametrized
ledger test) of a process shares it; each test gets its own table, so none sees
another's items. Subprocesses (gates, replayers) reach it through the environment
:func:`aws_environment` returns, as separate runners would.
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from typing import Any

import pytest

REGION = "eu-west-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# Settings of the machine that must not reach a test's SDK.
AMBIENT = (
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "SRE_LEDGER_URL",
)
_lock = threading.Lock()
_server: dict[str, Any] = {}


def endpoint() -> str:
    """The endpoint URL of this process's moto server (started on first call)."""
    with _lock:
        if "url" not in _server:
            import logging

            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                create_backend_app,
            )
            from werkzeug.serving import make_server

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

            app = OneAtATime(DomainDispatcherApplication(create_backend_app))
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            _server.update(server=server, url=f"http://127.0.0.1:{server.server_port}")
            atexit.register(server.shutdown)
        return str(_server["url"])


class OneAtATime:
    """A WSGI app that serves one request at a time.

    moto checks a write's condition and then applies it without a lock (and a failed
    transaction puts back a copy of the whole table taken before it ran), so two
    requests on two server threads can both pass a condition that DynamoDB lets only
    one pass. DynamoDB applies each conditional write, and each transaction, atomically;
    serving requests one after another gives the fake that guarantee (and nothing
    stronger that the code relies on: a runner's read-then-write is still two requests
    that others' requests come between).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


def aws_environment(url: str | None = None) -> dict[str, str]:
    """The variables a process needs to use the moto server (for ``os.environ``)."""
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url or endpoint()}


def use_moto(monkeypatch: pytest.MonkeyPatch, url: str | None = None) -> dict[str, str]:
    for name in AMBIENT:
        monkeypatch.delenv(name, raising=False)
    env = aws_environment(url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def new_table_url() -> str:
    """A ledger URL naming a table no test used, created on the moto server."""
    from change_mgmt.ledger.config import parse_ledger_url
    from change_mgmt.ledger.dynamo_admin import init_table

    url = f"dynamodb://ledger-{uuid.uuid4().hex[:12]}?region={REGION}"
    init_table(parse_ledger_url(url))
    return url


def subprocess_env(url: str, **extra: str) -> dict[str, str]:
    """``os.environ`` of a runner process pointed at the ledger ``url`` on moto."""
    env = {k: v for k, v in os.environ.items() if k not in AMBIENT}
    return {**env, **aws_environment(), "SRE_LEDGER_URL": url, **extra}


LEDGER_KINDS = ("sqlite", "dynamodb")


def select_ledger(kind: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the process at the default SQLite ledger, or (``dynamodb``) at a new table
    on the moto server through ``SRE_LEDGER_URL``: a module whose autouse fixture calls
    this with each of ``LEDGER_KINDS`` runs its whole flow on both."""
    if kind == "dynamodb":
        use_moto(monkeypatch)
        monkeypatch.setenv("SRE_LEDGER_URL", new_table_url())
    else:
        monkeypatch.delenv("SRE_LEDGER_URL", raising=False)
    return kind
