"""The environment lifecycle through the Automation API: list, deploy, destroy, remove.

The thin adapter for ``sre env up`` and ``sre env reap``, beside the gate's
(``change_mgmt/gate/automation.py``, whose error types and ``pulumi_available`` check it
shares). No stack output is ever fetched with ``--show-secrets``: updates and destroys
run in the gate's workspace that answers outputs with nothing, history is read without
secrets, and the outputs shown afterwards are the masked ones. Every CLI error is
cleaned and scrubbed of credential-shaped text before it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from change_mgmt.errors import SreError
from change_mgmt.gate.automation import (
    NO_CLI,
    PulumiUnavailable,
    UpdateFailed,
    pulumi_available,
    workspace_without_outputs,
)
from change_mgmt.preview.parse import clean_message
from change_mgmt.preview.redact import scrub_text

if TYPE_CHECKING:
    from pulumi.automation import CommandError, LocalWorkspace

__all__ = [
    "DestroyFailed",
    "ListFailed",
    "ListedStack",
    "PulumiUnavailable",
    "RemoveFailed",
    "UpdateFailed",
    "deploy_stack",
    "destroy_stack",
    "list_stacks",
    "remove_stack",
]

DETAIL_LIMIT = 2000


class ListFailed(SreError):
    """``pulumi stack ls`` failed: nothing can be judged, so nothing is reaped."""


class DestroyFailed(SreError):
    """``pulumi destroy`` failed; some resources may be gone, the rest stay in the stack."""


class RemoveFailed(SreError):
    """The stack was destroyed but ``pulumi stack rm`` refused or failed."""


@dataclass(frozen=True)
class ListedStack:
    """One stack of the project as ``pulumi stack ls --json`` lists it."""

    name: str
    """As listed (``env-x``, or ``org/env-x`` outside the default organization)."""
    resource_count: int | None
    last_update: datetime | None
    update_in_progress: bool | None

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Deployed:
    changes: dict[str, int]
    outputs: dict[str, object]
    """The stack outputs as ``pulumi stack output --json`` shows them: secrets masked."""


def _detail(exc: CommandError, *hidden: str) -> str:
    text = scrub_text(clean_message(str(exc)))
    for secret in hidden:
        if secret:
            text = text.replace(secret, "[secret]")
    return text[-DETAIL_LIMIT:].strip() or "no error output"


def _require_cli() -> None:
    if not pulumi_available():
        raise PulumiUnavailable(NO_CLI.replace("the preview cannot", "this cannot"))


def _workspace(project_dir: Path) -> LocalWorkspace:
    return workspace_without_outputs(project_dir, {})


def list_stacks(project_dir: Path) -> list[ListedStack]:
    """Every stack of the project (``LocalWorkspace.list_stacks``)."""
    _require_cli()
    from pulumi import automation as auto

    try:
        summaries = _workspace(project_dir).list_stacks()
    except auto.CommandError as exc:
        raise ListFailed(f"pulumi stack ls failed:\n{_detail(exc)}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ListFailed(f"pulumi stack ls printed something unreadable ({exc})") from None
    return [
        ListedStack(
            name=summary.name,
            resource_count=summary.resource_count,
            # The SDK parses the time without a zone; Pulumi writes it in UTC.
            last_update=summary.last_update.replace(tzinfo=UTC) if summary.last_update else None,
            update_in_progress=summary.update_in_progress,
        )
        for summary in summaries
    ]


def deploy_stack(
    project_dir: Path,
    stack: str,
    *,
    plain: Mapping[str, str],
    secrets: Mapping[str, str],
    on_output: Callable[[str], None],
) -> Deployed:
    """Create or select ``stack``, set its config (``secrets`` as secrets), ``pulumi up``.

    The stack is created or selected as ``create_or_select_stack(work_dir=...)`` does
    (select, create when not found), in the workspace that never decrypts outputs.
    """
    _require_cli()
    from pulumi import automation as auto

    workspace = _workspace(project_dir)
    hidden = tuple(secrets.values())
    try:
        selected = auto.Stack.create_or_select(stack, workspace)
        if plain:
            selected.set_all_config(
                {key: auto.ConfigValue(value=value) for key, value in plain.items()}
            )
        for key, value in secrets.items():
            selected.set_config(key, auto.ConfigValue(value=value, secret=True))
    except auto.CommandError as exc:
        raise UpdateFailed(
            f"pulumi could not prepare stack {stack!r}:\n{_detail(exc, *hidden)}"
        ) from None

    def masked(line: str) -> None:
        on_output(_hide(scrub_text(line), hidden))

    try:
        result = selected.up(on_output=masked, color="never", show_secrets=False)
    except auto.CommandError as exc:
        raise UpdateFailed(
            f"pulumi up of stack {stack!r} failed:\n{_detail(exc, *hidden)}"
        ) from None
    changes = result.summary.resource_changes if result.summary else None
    return Deployed(
        changes={str(getattr(op, "value", op)): n for op, n in (changes or {}).items()},
        outputs=_masked_outputs(workspace, stack),
    )


def _hide(text: str, hidden: tuple[str, ...]) -> str:
    for secret in hidden:
        if secret:
            text = text.replace(secret, "[secret]")
    return text


def _masked_outputs(workspace: LocalWorkspace, stack: str) -> dict[str, object]:
    """The outputs without ``--show-secrets``: a secret reads ``[secret]``."""
    from pulumi import automation as auto

    try:
        shown = workspace.pulumi_command.run(
            ["stack", "output", "--json", "--stack", stack], workspace.work_dir, {}
        )
        outputs = json.loads(shown.stdout or "{}")
    except (auto.CommandError, ValueError):
        return {}
    return dict(outputs) if isinstance(outputs, dict) else {}


def destroy_stack(project_dir: Path, stack: str, *, on_output: Callable[[str], None]) -> int:
    """``pulumi destroy`` every resource of ``stack``; returns how many were deleted."""
    _require_cli()
    from pulumi import automation as auto

    try:
        selected = auto.Stack.select(stack, _workspace(project_dir))
        result = selected.destroy(
            on_output=lambda line: on_output(scrub_text(line)), color="never", show_secrets=False
        )
    except auto.CommandError as exc:
        raise DestroyFailed(f"pulumi destroy of stack {stack!r} failed:\n{_detail(exc)}") from None
    changes = result.summary.resource_changes if result.summary else None
    return sum(n for op, n in (changes or {}).items() if str(getattr(op, "value", op)) == "delete")


def remove_stack(project_dir: Path, stack: str) -> None:
    """``pulumi stack rm`` without ``--force``: Pulumi refuses a stack that still has
    resources, so a stack is never forgotten while it holds something."""
    _require_cli()
    from pulumi import automation as auto

    try:
        _workspace(project_dir).remove_stack(stack)
    except auto.CommandError as exc:
        raise RemoveFailed(f"pulumi stack rm {stack} failed:\n{_detail(exc)}") from None
