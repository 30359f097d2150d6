"""``sre env up NAME``: deploy one environment request as stack ``env-<name>``.

The request must be valid and not expired; the platform config must be complete
(:mod:`change_mgmt.environments.platform`). The deploy is a change record: a merged,
validated request is a *standard* change (pre-approved by its pull request's review), so
it goes proposed → applying → applied or failed without a gate.

Its digest is the sha256 of a canonical JSON document (sorted keys, no whitespace) of
what is deployed: the stack, the validated request (every field, defaults filled in),
the plain config and the names of the secret keys (never their values), and the commit
of the checkout (``HEAD``). A re-run on the same commit with the same request and config
is the same change: after a failure it is a retry, after success there is nothing to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from change_mgmt.environments.catalog import REQUESTS_DIR, LoadedRequest, load_request
from change_mgmt.environments.locks import close_stale, exclusive, lock_path
from change_mgmt.environments.platform import StackSettings, stack_settings
from change_mgmt.environments.request import MAX_NAME_LENGTH, format_expiry
from change_mgmt.environments.stacks import (
    PulumiUnavailable,
    UpdateFailed,
    deploy_stack,
)
from change_mgmt.errors import SreError
from change_mgmt.gate.automation import NO_CLI, pulumi_available
from change_mgmt.gitcmd import GitCommandError, run_git
from change_mgmt.ledger.records import ChangeRecord, ChangeState
from change_mgmt.ledger.store import Ledger
from policies.config import CONFIG_FILE, PACK_DIR, load_config
from policies.naming import dns_label_problem

DIGEST_SCHEMA = "sre-platform/env-up/v1"
AUTHOR_ENV = "SRE_CHANGE_AUTHOR"


class DeployRefused(SreError):
    """The request cannot be deployed: unknown, invalid or expired (bad input)."""


@dataclass(frozen=True)
class DeployOutcome:
    loaded: LoadedRequest
    record: ChangeRecord
    applied: bool
    already_applied: bool = False
    changes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, object] = field(default_factory=dict)
    error: str | None = None

    @property
    def stack(self) -> str:
        return self.loaded.request.stack_name


def request_path(project_dir: Path, name: str) -> Path:
    """``stacks/environments/<name>.yaml``, for a name that is an environment name."""
    problem = dns_label_problem(name, max_length=MAX_NAME_LENGTH)
    if problem:
        raise DeployRefused(f"{name!r} is not an environment name: {problem}")
    return project_dir / REQUESTS_DIR / f"{name}.yaml"


def load_deployable(project_dir: Path, name: str, *, now: datetime) -> LoadedRequest:
    """The request of ``name``, valid (policy included) and not expired at ``now``."""
    path = request_path(project_dir, name)
    shown = f"{REQUESTS_DIR}/{name}.yaml"
    if not path.is_file():
        raise DeployRefused(
            f"no request file {shown}: nothing to deploy (create it with `sre env new {name}` "
            "and merge it by pull request)"
        )
    policy = load_config(
        project_dir / PACK_DIR / CONFIG_FILE, shown_path=f"{PACK_DIR}/{CONFIG_FILE}"
    )
    loaded = load_request(path, shown_path=shown, now=now, policy=policy)
    if loaded.request.expires_at <= now:
        raise DeployRefused(
            f"environment {name} expired at {format_expiry(loaded.request.expires_at)}; it is "
            "not deployed again. Extend expires_at in a pull request, or remove the file "
            "(the reaper destroys it)."
        )
    return loaded


def head_commit(project_dir: Path) -> str | None:
    try:
        out = run_git(
            project_dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok_codes=(0, 1)
        )
    except GitCommandError:
        return None
    return out.decode().strip() or None


def deploy_digest(loaded: LoadedRequest, settings: StackSettings, commit: str | None) -> str:
    document = {
        "schema": DIGEST_SCHEMA,
        "stack": loaded.request.stack_name,
        "request": loaded.request.model_dump(mode="json"),
        "config": settings.shown,
        "commit": commit,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def deploy_environment(
    project_dir: Path,
    name: str,
    *,
    clock: Callable[[], datetime],
    on_output: Callable[[str], None],
) -> DeployOutcome:
    """Validate, record, ``pulumi up``, record the outcome."""
    now = clock()
    loaded = load_deployable(project_dir, name, now=now)
    settings = stack_settings(project_dir, loaded.request)
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI.replace("the preview cannot", "this cannot"))
    stack = loaded.request.stack_name
    commit = head_commit(project_dir)
    ledger = Ledger.for_repository(project_dir)
    with exclusive(lock_path(project_dir, stack), f"an operation on stack {stack}", now=now):
        close_stale(ledger, stack, now=clock())
        record = ledger.propose(
            stack,
            deploy_digest(loaded, settings, commit),
            risk_level="low",
            risk_score=0,
            change_type="standard",
            author=os.environ.get(AUTHOR_ENV) or str(loaded.request.owner),
            commit=commit,
            summary={},
            now=clock(),
        )
        if record.state is ChangeState.applied:
            return DeployOutcome(loaded, record, applied=True, already_applied=True)
        record = ledger.transition(record.id, ChangeState.applying, now=clock())
        try:
            deployed = deploy_stack(
                project_dir,
                stack,
                plain=settings.plain,
                secrets=settings.secrets,
                on_output=on_output,
            )
        except UpdateFailed as exc:
            record = ledger.transition(record.id, ChangeState.failed, now=clock())
            return DeployOutcome(loaded, record, applied=False, error=str(exc))
        record = ledger.transition(record.id, ChangeState.applied, now=clock())
    return DeployOutcome(
        loaded, record, applied=True, changes=deployed.changes, outputs=deployed.outputs
    )
