"""``sre stack drift STACK``: does what runs in the cloud still match the code?

A refresh preview that expects no changes (``pulumi preview --refresh
--expect-no-changes``), through the repository's policy pack as the gate's preview. Any
step other than ``same`` is drift. Drift is posted to the SRE channel
(``$SRE_DRIFT_WEBHOOK_URL``, a Mattermost incoming webhook) and recorded as a *normal*
change record of the preview's digest, left ``proposed``: it is never applied by this
command; fixing it is a change like any other (a pull request through ``sre gate``, or a
deliberate ``pulumi refresh``).

Fail closed: a preview that fails without showing changes, or prints nothing readable,
is "could not check", never "no drift".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from change_mgmt.errors import SreError
from change_mgmt.gate.automation import PreviewFailed, run_preview
from change_mgmt.ledger.records import ChangeRecord, format_time
from change_mgmt.ledger.store import Ledger
from change_mgmt.notify.mattermost import WebhookError, post_message, validate_webhook_url
from change_mgmt.preview import ChangeSet, PreviewError, ResourceChange

WEBHOOK_ENV = "SRE_DRIFT_WEBHOOK_URL"
NO_CHANGES_EXPECTED = "no changes were expected"
"""The CLI's own complaint when ``--expect-no-changes`` meets changes (not a failure to
report beside the drift itself)."""
LISTED_CHANGES = 20
AUTHOR = "sre stack drift"


class DriftCheckRefused(SreError):
    """The check cannot start: not a platform stack, or an unusable webhook URL."""


@dataclass(frozen=True)
class DriftReport:
    stack: str
    status: str
    """``no-drift``, ``drift`` or ``failed`` (the preview could not say)."""
    drifted: tuple[ResourceChange, ...] = ()
    failures: tuple[str, ...] = ()
    record: ChangeRecord | None = None
    notified: bool = False
    notify_error: str | None = None


def webhook_url() -> str | None:
    """``$SRE_DRIFT_WEBHOOK_URL``, checked before anything runs (never shown)."""
    url = os.environ.get(WEBHOOK_ENV) or None
    if url is not None:
        try:
            validate_webhook_url(url)
        except WebhookError as exc:
            raise DriftCheckRefused(f"${WEBHOOK_ENV}: {exc}") from None
    return url


def check_drift(
    project_dir: Path,
    stack: str,
    *,
    clock: Callable[[], datetime],
    post: Callable[[str, str], None] = post_message,
) -> DriftReport:
    """Run the refresh preview of ``stack``; on drift, record it and tell the channel."""
    from stacks.platform_stack_config import PLATFORM_STACKS

    if stack.rsplit("/", 1)[-1] not in PLATFORM_STACKS:
        raise DriftCheckRefused(
            f"{stack!r} is not a platform stack ({', '.join(PLATFORM_STACKS)}); drift is "
            "checked on those"
        )
    url = webhook_url()
    try:
        changeset = run_preview(project_dir, stack, None, refresh=True, expect_no_changes=True)
    except (PreviewFailed, PreviewError) as exc:
        return DriftReport(stack, "failed", failures=(str(exc),))
    drifted = changeset.actual_changes
    failures = tuple(f for f in changeset.failures if NO_CHANGES_EXPECTED not in f)
    if changeset.incomplete:
        failures += (changeset.incomplete,)
    if not drifted:
        if changeset.failures or changeset.incomplete:
            return DriftReport(stack, "failed", failures=failures or changeset.failures)
        return DriftReport(stack, "no-drift")
    record = _record(project_dir, changeset, clock)
    if url is None:
        return DriftReport(
            stack,
            "drift",
            drifted,
            failures,
            record,
            notify_error=f"${WEBHOOK_ENV} is not set: the SRE channel was not told",
        )
    try:
        post(url, drift_message(stack, drifted, record))
    except WebhookError as exc:
        return DriftReport(stack, "drift", drifted, failures, record, notify_error=str(exc))
    return DriftReport(stack, "drift", drifted, failures, record, notified=True)


def _record(project_dir: Path, changeset: ChangeSet, clock: Callable[[], datetime]) -> ChangeRecord:
    """A normal change (it needs approval to be applied), proposed and left there."""
    return Ledger.for_repository(project_dir).propose(
        changeset.stack,
        changeset.digest,
        risk_level="medium",
        risk_score=0,
        change_type="normal",
        author=AUTHOR,
        commit=None,
        summary=changeset.summary,
        now=clock(),
    )


def drift_message(stack: str, drifted: tuple[ResourceChange, ...], record: ChangeRecord) -> str:
    """Markdown for the SRE channel: which resources differ, the record, what to do."""
    lines = [
        f"#### Drift on stack `{stack}`",
        f"{len(drifted)} resource(s) no longer match the code (refresh preview, "
        f"first seen {format_time(record.created_at)}). Recorded as change "
        f"{record.ticket} (proposed, not applied).",
        "",
    ]
    for change in drifted[:LISTED_CHANGES]:
        lines.append(f"- `{change.op}` {change.type} `{change.name}`")
    if len(drifted) > LISTED_CHANGES:
        lines.append(f"- … and {len(drifted) - LISTED_CHANGES} more")
    lines += [
        "",
        f"Look with `pulumi preview --refresh --stack {stack}`; fix it with a pull request "
        f"through `sre gate`, or accept reality with a deliberate `pulumi refresh`.",
    ]
    return "\n".join(lines)
