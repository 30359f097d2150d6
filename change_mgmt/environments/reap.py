"""``sre env reap``: destroy the environment stacks whose request expired or was deleted.

Which stacks: those ``pulumi stack ls`` lists whose name is ``env-<name>``; any other
stack is never touched. Each is judged by ``stacks/environments/<name>.yaml`` in the
checkout (CI: the checked-out ``main``):

- no such file (deleted, or renamed: the old name goes, the new one is deployed by
  ``sre env up``) → destroyed;
- expired more than :data:`GRACE` ago → destroyed; expired less long ago → kept for now
  (clocks of CI runners and of whoever wrote ``expires_at`` differ by seconds or
  minutes: an environment is never destroyed early because of a skewed clock);
- not expired → kept;
- unreadable or invalid (a syntax error), a look-alike file (``<name>.yml``,
  ``<Name>.yaml``) or a stack name that is no environment name → kept and reported: a
  broken file must never read as a deleted one;
- no ``stacks/environments/`` folder at all → nothing is reaped (a wrong checkout).

Destroying: at most ``parallel`` at once; each under the stack's lock, as a change
record (proposed → applying → applied or failed), then ``pulumi stack rm`` (without
``--force``: Pulumi refuses a stack that still has resources). A failed destroy is
reported and left for the next run; it never stops the others. One reaper runs at a
time (:mod:`change_mgmt.environments.locks`).

A destroy's digest is the sha256 of canonical JSON of the stack, why it goes (and the
expiry it is judged by) and the stack's last update as Pulumi lists it: each attempt on
a stack as it then stands is one change record.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import REQUESTS_DIR, folder_entries, load_request
from change_mgmt.environments.deploy import AUTHOR_ENV, head_commit
from change_mgmt.environments.locks import LockHeld, close_stale, exclusive, lock_path
from change_mgmt.environments.request import MAX_NAME_LENGTH, format_expiry
from change_mgmt.environments.stacks import (
    DestroyFailed,
    ListedStack,
    RemoveFailed,
    destroy_stack,
    list_stacks,
    remove_stack,
)
from change_mgmt.errors import SreError
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from policies.naming import dns_label_problem

GRACE = timedelta(minutes=10)
"""How long past ``expires_at`` an environment is kept before it is destroyed."""
STACK_PREFIX = "env-"
DIGEST_SCHEMA = "sre-platform/env-destroy/v1"
REAPER_AUTHOR = "sre env reap"


class ReapRefused(SreError):
    """Nothing can be judged safely (no requests folder): nothing is reaped."""


@dataclass(frozen=True)
class Judged:
    """One ``env-*`` stack and what its request says about it."""

    stack: ListedStack
    name: str
    verdict: str
    """``deleted`` or ``expired`` (destroyed), ``active`` or ``grace`` (kept), ``invalid``."""
    reason: str
    expires_at: datetime | None = None

    @property
    def doomed(self) -> bool:
        return self.verdict in ("deleted", "expired")


@dataclass(frozen=True)
class Reaped:
    judged: Judged
    outcome: str
    """``would-destroy`` (dry run), ``destroyed``, ``failed``, ``not-removed``, ``busy``,
    ``kept`` or ``invalid``."""
    deleted: int = 0
    change_id: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("would-destroy", "destroyed", "kept")


@dataclass(frozen=True)
class ReapReport:
    at: datetime
    dry_run: bool
    results: list[Reaped]
    ignored: list[str]
    """Stacks that are not ``env-*``: listed, never touched."""

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)


def judge(project_dir: Path, stack: ListedStack, *, now: datetime, grace: timedelta) -> Judged:
    """What the checkout's request of an ``env-*`` stack says should happen to it."""
    name = stack.short_name.removeprefix(STACK_PREFIX)
    problem = dns_label_problem(name, max_length=MAX_NAME_LENGTH)
    if problem:
        return Judged(stack, name, "invalid", f"not an environment name ({problem}); left alone")
    requests_dir = project_dir / REQUESTS_DIR
    shown = f"{REQUESTS_DIR}/{name}.yaml"
    path = requests_dir / f"{name}.yaml"
    lookalikes = [
        entry.name
        for entry in folder_entries(requests_dir)
        if entry.name != path.name and entry.stem.lower() == name.lower()
    ]
    if lookalikes:
        return Judged(
            stack,
            name,
            "invalid",
            f"{', '.join(lookalikes)} in {REQUESTS_DIR}/ looks like its request but is not "
            f"{name}.yaml; left alone until that is fixed",
        )
    if not path.exists():
        return Judged(stack, name, "deleted", f"{shown} was removed")
    try:
        request = load_request(path, shown_path=shown, now=now).request
    except DocumentError as exc:
        first = str(exc.problems[0]) if exc.problems else shown
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return Judged(stack, name, "invalid", f"request invalid, not reaped: {first}{more}")
    return _by_expiry(stack, name, request.expires_at, now=now, grace=grace)


def _by_expiry(
    stack: ListedStack, name: str, expires_at: datetime, *, now: datetime, grace: timedelta
) -> Judged:
    expiry = format_expiry(expires_at)
    if expires_at + grace < now:
        return Judged(stack, name, "expired", f"expired at {expiry}", expires_at)
    if expires_at <= now:
        minutes = int(grace.total_seconds() // 60)
        return Judged(
            stack,
            name,
            "grace",
            f"expired at {expiry}; destroyed once {minutes} min past it (clock skew)",
            expires_at,
        )
    return Judged(stack, name, "active", f"active until {expiry}", expires_at)


def destroy_digest(judged: Judged) -> str:
    last = judged.stack.last_update
    document = {
        "schema": DIGEST_SCHEMA,
        "stack": judged.stack.name,
        "reason": judged.verdict,
        "expires_at": format_expiry(judged.expires_at) if judged.expires_at else None,
        "last_update": last.isoformat() if last else None,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def plan(project_dir: Path, *, now: datetime, grace: timedelta = GRACE) -> ReapReport:
    """Judge every ``env-*`` stack; destroy nothing (``--dry-run``)."""
    if not (project_dir / REQUESTS_DIR).is_dir():
        raise ReapRefused(
            f"{project_dir} has no {REQUESTS_DIR}/ folder: not a checkout of the project, "
            "so every environment would look deleted; nothing reaped"
        )
    listed = list_stacks(project_dir)
    ignored = sorted(s.name for s in listed if not s.short_name.startswith(STACK_PREFIX))
    results = []
    for stack in sorted(listed, key=lambda s: s.name):
        if not stack.short_name.startswith(STACK_PREFIX):
            continue
        judged = judge(project_dir, stack, now=now, grace=grace)
        if judged.doomed:
            outcome = "would-destroy"
        else:
            outcome = "invalid" if judged.verdict == "invalid" else "kept"
        results.append(Reaped(judged, outcome))
    return ReapReport(at=now, dry_run=True, results=results, ignored=ignored)


def reap(
    project_dir: Path,
    *,
    now: datetime,
    clock: Callable[[], datetime],
    parallel: int,
    grace: timedelta = GRACE,
    on_result: Callable[[Reaped], None] = lambda result: None,
    on_start: Callable[[int], None] = lambda count: None,
) -> ReapReport:
    """Judge every ``env-*`` stack as of ``now`` and destroy the doomed ones."""
    ledger = Ledger.for_repository(project_dir)
    with exclusive(lock_path(project_dir, "reaper"), "another sre env reap", now=clock()):
        judged = plan(project_dir, now=now, grace=grace)
        doomed = [r for r in judged.results if r.outcome == "would-destroy"]
        on_start(len(doomed))
        commit = head_commit(project_dir)

        def one(result: Reaped) -> Reaped:
            done = _destroy(project_dir, ledger, result.judged, clock=clock, commit=commit)
            on_result(done)
            return done

        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="reap") as pool:
            finished = {r.judged.stack.name: r for r in pool.map(one, doomed)}
    results = [finished.get(r.judged.stack.name, r) for r in judged.results]
    return replace(judged, dry_run=False, results=results)


def _destroy(
    project_dir: Path,
    ledger: Ledger,
    judged: Judged,
    *,
    clock: Callable[[], datetime],
    commit: str | None,
) -> Reaped:
    stack = judged.stack.name
    try:
        with exclusive(
            lock_path(project_dir, stack), f"an operation on stack {stack}", now=clock()
        ):
            close_stale(ledger, stack, now=clock())
            record = ledger.propose(
                stack,
                destroy_digest(judged),
                risk_level="low",
                risk_score=0,
                change_type="standard",
                author=os.environ.get(AUTHOR_ENV) or REAPER_AUTHOR,
                commit=commit,
                summary={"delete": judged.stack.resource_count or 0},
                now=clock(),
            )
            deleted = 0
            if record.state is not ChangeState.applied:
                record = ledger.transition(record.id, ChangeState.applying, now=clock())
                try:
                    deleted = destroy_stack(project_dir, stack, on_output=lambda line: None)
                except DestroyFailed as exc:
                    record = ledger.transition(record.id, ChangeState.failed, now=clock())
                    return Reaped(judged, "failed", change_id=record.id, error=str(exc))
                record = ledger.transition(record.id, ChangeState.applied, now=clock())
            try:
                remove_stack(project_dir, stack)
            except RemoveFailed as exc:
                return Reaped(judged, "not-removed", deleted, record.id, str(exc))
            return Reaped(judged, "destroyed", deleted, record.id)
    except LockHeld as exc:
        return Reaped(judged, "busy", error=str(exc))
    except SreError as exc:  # the ledger refused: reported, the others go on
        return Reaped(judged, "failed", error=str(exc))
