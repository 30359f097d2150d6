"""Exclusive locks for the environment lifecycle: one reaper at a time, one operation
per stack at a time (on this machine; across machines, Pulumi's own stack lock and the
workflow's concurrency group hold).

A lock is ``flock`` on a file under the checkout's ``.sre/locks/``: the kernel releases
it when its holder exits, however it ends, so a killed reaper never leaves a stale lock
behind. The file's text only says who holds it, for the message a loser prints. Holding
a stack's lock also proves that no live process is applying a change to that stack, so
a change record still ``applying`` is the remains of a killed run: :func:`close_stale`
marks it failed before a new attempt.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from change_mgmt.errors import SreError
from change_mgmt.ledger.records import ChangeRecord, ChangeState
from change_mgmt.ledger.store import LEDGER_PATH, Ledger

LOCKS_DIR = LEDGER_PATH.parent / "locks"


class LockHeld(SreError):
    """Another process holds the lock: it is doing this work right now."""


def lock_path(project_dir: Path, name: str) -> Path:
    return project_dir / LOCKS_DIR / f"{name}.lock"


@contextmanager
def exclusive(path: Path, what: str, *, now: datetime) -> Iterator[None]:
    """Hold ``path``'s lock for the block, or raise :class:`LockHeld` at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockHeld(f"{what} is already running ({holder}); nothing done") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {now.isoformat()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def close_stale(ledger: Ledger, stack: str, *, now: datetime) -> list[ChangeRecord]:
    """Mark failed every change of ``stack`` left ``applying`` by a run that died.

    Only call it while holding the stack's lock: then no live process applies them.
    """
    return [
        ledger.transition(record.id, ChangeState.failed, now=now)
        for record in ledger.list(stack=stack, states=[ChangeState.applying])
    ]
