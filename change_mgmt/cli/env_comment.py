"""``sre env comment``: the environment-request pull request's comment, in Markdown."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from change_mgmt.cli.common import ProjectDirOption, at_option, err, project_dir, user_errors
from change_mgmt.cli.env_changed import SinceOption
from change_mgmt.environments import changes
from change_mgmt.environments.catalog import REQUESTS_DIR


def comment_command(
    since: str = SinceOption,
    at: datetime | None = at_option(
        "Judge expiry as of this moment (ISO 8601 with offset; default: now)."
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Print the pull request's comment: for each request added or changed since a git
    ref, its validation, what it declares, its monthly cost and the policy pack's
    findings; each deleted request as to be destroyed by the reaper.

    Markdown on stdout, for a sticky-comment action (which adds its own marker). Values
    from request files are escaped: they can neither format the comment nor mention
    anyone. Each changed request is evaluated as `sre env render` evaluates it.

    Exit codes: 0 printed (also when a request is invalid or breaks a rule: the comment
    says so, and `sre env validate` is the check that fails); 2 invalid input (an unknown
    or ambiguous --since ref, an invalid policies/config.yaml).
    """
    now = (at or datetime.now(UTC)).astimezone(UTC)
    # Imported here: rendering loads the provider SDKs.
    from change_mgmt.environments.pr_comment import comment_markdown

    with user_errors(changes.GitRefError), err.status("comparing requests…") as status:
        base = project_dir(directory)
        found = changes.request_changes(base, since, base / REQUESTS_DIR)
        text = comment_markdown(
            base,
            found,
            now=now,
            progress=lambda name: status.update(
                f"evaluating env-{escape(name)} under Pulumi mocks…"
            ),
        )
    sys.stdout.write(text)
