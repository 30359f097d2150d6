"""``pulumi preview`` and ``pulumi up`` through the Automation API: the one place that
needs the Pulumi CLI.

The preview is taken as ``--json`` output (steps with dependencies) while engine events
are watched for policy violations, which ``--json`` never carries. The plan is saved so
that the update runs exactly what was gated (``up --plan``).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from change_mgmt.errors import SreError
from change_mgmt.preview import ChangeSet, PolicyViolation, parse_preview_json
from change_mgmt.preview.parse import clean_message


class PulumiUnavailable(SreError):
    """No Pulumi CLI on PATH: the preview must be given as a file."""


class PreviewFailed(SreError):
    """``pulumi preview`` ran and failed."""


class UpdateFailed(SreError):
    """``pulumi up`` ran and failed; the stack may be partly updated."""


NO_CLI = (
    "the Pulumi CLI is not on PATH, so the preview cannot be run here. Run "
    "`pulumi preview --stack STACK --json > preview.json` (or `--event-log events.jsonl`) "
    "where the CLI is, then pass --preview preview.json (or --events events.jsonl)."
)


def pulumi_available() -> bool:
    return shutil.which("pulumi") is not None


def run_preview(project_dir: Path, stack: str, plan_path: Path) -> ChangeSet:
    """Preview ``stack`` of the project in ``project_dir``, saving the plan to ``plan_path``."""
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI)
    from pulumi import automation as auto

    violations: list[PolicyViolation] = []

    def on_event(event: auto.EngineEvent) -> None:
        policy = event.policy_event
        if policy is not None:
            violations.append(
                PolicyViolation(
                    policy=policy.policy_name,
                    pack=policy.policy_pack_name,
                    enforcement=policy.enforcement_level,
                    message=clean_message(policy.message),
                    urn=policy.resource_urn or None,
                )
            )

    plan_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        selected = auto.select_stack(stack_name=stack, work_dir=str(project_dir))
        result = selected.preview(plan=str(plan_path), json=True, on_event=on_event, color="never")
    except auto.CommandError as exc:
        detail = clean_message(str(exc))[-2000:]
        raise PreviewFailed(f"pulumi preview of stack {stack!r} failed:\n{detail}") from None
    changeset = parse_preview_json(
        result.stdout, source_name=f"pulumi preview --stack {stack}", stack=stack
    )
    return dataclasses.replace(changeset, policy_violations=tuple(violations))


def run_update(
    project_dir: Path,
    stack: str,
    plan_path: Path,
    *,
    env: Mapping[str, str],
    on_output: Callable[[str], None],
) -> dict[str, int]:
    """Apply exactly the saved plan to ``stack``; returns the resource changes by op.

    ``env`` reaches the program (the gate receipt). Secrets are never fetched back.
    """
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI)
    from pulumi import automation as auto

    try:
        selected = auto.select_stack(
            stack_name=stack,
            work_dir=str(project_dir),
            opts=auto.LocalWorkspaceOptions(work_dir=str(project_dir), env_vars=dict(env)),
        )
        result = selected.up(
            plan=str(plan_path), on_output=on_output, color="never", show_secrets=False
        )
    except auto.CommandError as exc:
        detail = clean_message(str(exc))[-2000:]
        raise UpdateFailed(f"pulumi up of stack {stack!r} failed:\n{detail}") from None
    changes = result.summary.resource_changes if result.summary else None
    # Typed as OpType keys, but decoded from JSON: plain strings at run time.
    return {str(getattr(op, "value", op)): count for op, count in (changes or {}).items()}
