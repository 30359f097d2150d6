"""``pulumi preview`` and ``pulumi up`` through the Automation API: the one place that
needs the Pulumi CLI.

The preview is taken as ``--json`` output (steps with dependencies) while engine events
are watched for policy violations, which ``--json`` never carries; it always runs the
repository's policy pack. The plan is saved so that the update runs exactly what was
gated (``up --plan``).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from change_mgmt.errors import SreError
from change_mgmt.preview import (
    ChangeSet,
    Diagnostic,
    PolicyViolation,
    PreviewError,
    parse_preview_json,
)
from change_mgmt.preview.parse import clean_message, unknown_change

if TYPE_CHECKING:
    from pulumi.automation import LocalWorkspace


class PulumiUnavailable(SreError):
    """No Pulumi CLI on PATH: the preview must be given as a file."""


class PreviewFailed(SreError):
    """``pulumi preview`` ran and failed."""


class UpdateFailed(SreError):
    """``pulumi up`` ran and failed; the stack may be partly updated."""


class StackNotNamed(SreError):
    """The stack cannot be named in full (``org/project/stack``), so no receipt can bind it."""


NO_CLI = (
    "the Pulumi CLI is not on PATH, so the preview cannot be run here. Run "
    "`pulumi preview --stack STACK --json > preview.json` (or `--event-log events.jsonl`) "
    "where the CLI is, then pass --preview preview.json (or --events events.jsonl)."
)


def pulumi_available() -> bool:
    return shutil.which("pulumi") is not None


POLICY_PACK = "policies"
"""The repository's CrossGuard pack (``<project>/policies``): the gate's preview always
runs it, so its mandatory rules hold whatever flags CI passes."""


def run_preview(
    project_dir: Path,
    stack: str,
    plan_path: Path | None,
    *,
    refresh: bool = False,
    expect_no_changes: bool = False,
) -> ChangeSet:
    """Preview ``stack`` of the project in ``project_dir``, saving the plan to ``plan_path``.

    A preview the engine fails (a mandatory policy violation, a provider error) is still
    a ChangeSet: it carries the violations, the errors and the failure, so the gate
    closes and says why. Pulumi saves no plan for it.

    ``refresh`` and ``expect_no_changes`` make it the drift check (``sre stack drift``):
    ``pulumi preview --refresh --expect-no-changes``, no plan; the CLI then fails a
    preview that has changes, and the steps it printed still say which.
    """
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI)
    from pulumi import automation as auto

    violations: list[PolicyViolation] = []
    errors: list[Diagnostic] = []
    stdout: list[str] = []
    stderr: list[str] = []

    def on_event(event: auto.EngineEvent) -> None:
        policy, diagnostic = event.policy_event, event.diagnostic_event
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
        if diagnostic is not None and diagnostic.severity == "error":
            message = clean_message(diagnostic.message)
            errors.append(Diagnostic("error", message, diagnostic.urn or None))

    if plan_path is not None:
        plan_path.parent.mkdir(parents=True, exist_ok=True)
    name = f"pulumi preview --stack {stack}"
    try:
        selected = auto.select_stack(stack_name=stack, work_dir=str(project_dir))
    except auto.CommandError as exc:
        detail = clean_message(str(exc))[-2000:]
        raise PreviewFailed(f"pulumi cannot select stack {stack!r}:\n{detail}") from None
    try:
        result = selected.preview(
            plan=None if plan_path is None else str(plan_path),
            refresh=refresh or None,
            expect_no_changes=expect_no_changes or None,
            json=True,
            on_event=on_event,
            on_output=stdout.append,
            on_error=stderr.append,
            color="never",
            policy_packs=[str(project_dir / POLICY_PACK)],
        )
    except auto.CommandError:
        detail = clean_message("\n".join(stderr))[-2000:] or "no error output"
        changeset = _whatever_it_printed("\n".join(stdout), name, stack)
        return dataclasses.replace(
            changeset,
            policy_violations=tuple(violations),
            diagnostics=tuple(dict.fromkeys((*changeset.diagnostics, *errors))),
            failure=f"pulumi preview exited with an error: {detail}",
        )
    changeset = parse_preview_json(result.stdout, source_name=name, stack=stack)
    return dataclasses.replace(changeset, policy_violations=tuple(violations))


def _whatever_it_printed(stdout: str, source_name: str, stack: str) -> ChangeSet:
    """The steps a failed preview printed, if it printed a preview; else none."""
    try:
        return parse_preview_json(stdout, source_name=source_name, stack=stack)
    except PreviewError:
        return unknown_change(stack, source_name=source_name)


def run_update(
    project_dir: Path,
    stack: str,
    plan_path: Path,
    *,
    env: Mapping[str, str],
    on_output: Callable[[str], None],
) -> dict[str, int]:
    """Apply exactly the saved plan to ``stack``; returns the resource changes by op.

    ``env`` reaches the program (the gate receipt). ``Stack.up()`` would fetch the stack
    outputs afterwards with ``pulumi stack output --show-secrets``; the workspace here
    answers that with nothing, so no secret is ever decrypted into this process, and
    history is read without ``--show-secrets``.
    """
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI)
    from pulumi import automation as auto

    try:
        workspace = workspace_without_outputs(project_dir, env)
        selected = auto.Stack.select(stack, workspace)
        result = selected.up(
            plan=str(plan_path), on_output=on_output, color="never", show_secrets=False
        )
    except auto.CommandError as exc:
        detail = clean_message(str(exc))[-2000:]
        raise UpdateFailed(f"pulumi up of stack {stack!r} failed:\n{detail}") from None
    changes = result.summary.resource_changes if result.summary else None
    # Typed as OpType keys, but decoded from JSON: plain strings at run time.
    return {str(getattr(op, "value", op)): count for op, count in (changes or {}).items()}


def workspace_without_outputs(project_dir: Path, env: Mapping[str, str]) -> LocalWorkspace:
    """A workspace whose ``Stack.up()``/``destroy()`` never run ``stack output
    --show-secrets`` (shared with the environment lifecycle, change_mgmt/environments/stacks.py)."""
    from pulumi import automation as auto

    class NoOutputsWorkspace(auto.LocalWorkspace):
        """``sre up`` never reads stack outputs; fetching them would decrypt secrets."""

        def stack_outputs(self, stack_name: str) -> auto.OutputMap:
            return {}

    return NoOutputsWorkspace(work_dir=str(project_dir), env_vars=dict(env))


def full_stack_name_of(project_dir: Path, stack: str) -> str:
    """``stack`` as the user named it (``stack``, ``org/stack`` or ``org/project/stack``)
    in the one form the engine gives the program: ``org/project/stack``.

    The project is the one in ``Pulumi.yaml``; the organization of a bare name is the
    backend's default, which only Pulumi knows, so Pulumi is asked.
    """
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI)
    from pulumi import automation as auto

    workspace = auto.LocalWorkspace(work_dir=str(project_dir))
    project = workspace.project_settings().name
    given = stack.split("/")
    if len(given) == 1:
        full = _fully_qualified_by_pulumi(workspace, stack)
    elif len(given) == 2:
        full = f"{given[0]}/{project}/{given[1]}"
    else:
        full = stack
    parts = full.split("/")
    if len(parts) != 3 or not all(parts) or parts[1:] != [project, given[-1]]:
        raise StackNotNamed(
            f"stack {stack!r} (to Pulumi: {full!r}) is not a stack of project {project!r}; "
            f"name it as org/{project}/<stack>"
        )
    return full


def _fully_qualified_by_pulumi(workspace: LocalWorkspace, stack: str) -> str:
    from pulumi import automation as auto

    try:
        named = workspace.pulumi_command.run(
            ["stack", "--show-name", "--fully-qualify-stack-names", "--stack", stack],
            workspace.work_dir,
            {},
        )
    except auto.CommandError as exc:
        detail = clean_message(str(exc))[-500:]
        raise StackNotNamed(
            f"Pulumi could not give the full name of stack {stack!r}:\n{detail}"
        ) from None
    return named.stdout.strip()
