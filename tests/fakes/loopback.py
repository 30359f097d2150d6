"""The part every fake server shares: HTTP on 127.0.0.1 (random port), in a daemon thread."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    """Keeps the connections it serves, so that stopping can hang up on kept-alive ones.

    Without that, each handler thread waits forever for a next request on its
    connection, and a client shared between tests keeps those connections in its pool,
    checking every one of them on each request it sends (and the threads pile up).
    """

    daemon_threads = True
    timeout = 0  # handle_request is only called with a connection waiting

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def hang_up(self) -> None:
        """End every open connection: its handler reads end-of-file and returns."""
        with self.connections_lock:
            connections = list(self.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the other side
                connection.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """``with Fake() as fake:`` serves ``handler`` at ``fake.base_url`` until the block ends.

    The handler reaches its fake as ``self.server.fake``. ``closing`` is set on stop, so
    deliberately slow answers can wake up and give up; stopping also hangs up on the
    connections clients keep alive.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.closing = threading.Event()
        self._server = _Server(handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _serve(self) -> None:
        """Accept connections until stopped. Unlike ``serve_forever`` it does not poll:
        stopping wakes it at once (a poll interval made every test wait for it), and an
        idle fake never takes the GIL from the client under test."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._server, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self.closing.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._server and not self.closing.is_set():
                        self._server.handle_request()  # ready: takes no wait

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closing.set()
        os.write(self._wake_write, b"x")
        self._thread.join()
        self._server.hang_up()
        self._server.server_close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
