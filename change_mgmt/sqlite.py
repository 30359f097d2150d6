"""SQLite as every local store here uses it (the ledger, the ticket outbox).

One short-lived connection per call, WAL journalling, and writes in ``BEGIN IMMEDIATE``
so concurrent processes queue for the one write lock instead of failing half-way.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 10.0


@contextmanager
def connection(
    path: Path, on_error: Callable[[sqlite3.Error], Exception]
) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode; SQLite errors become ``on_error(exc)``."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise on_error(exc) from None
    try:
        conn.row_factory = sqlite3.Row
        yield conn
    except sqlite3.Error as exc:
        raise on_error(exc) from None
    finally:
        conn.close()


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed on success, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL and return the journal mode SQLite reports. The switch needs an
    exclusive lock and SQLite does not wait for one (no busy handler), so wait here
    while another process sets the file up."""
    deadline, pause = time.monotonic() + BUSY_TIMEOUT_SECONDS, 0.002
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
