"""``sre env render NAME --as operator-stack``: the request as the operator's Stack.

Kept apart from ``env.py`` so that module stays thin; light imports only (the Pulumi
SDK is never loaded for this output).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape

from change_mgmt.cli.common import EXIT_INVALID, OutputFormat, err, fail, user_errors

OPERATOR_STACK = "operator-stack"
RENDER_AS = (OPERATOR_STACK,)
AS_HELP = (
    "operator-stack: print, as YAML, the pulumi.com/v1 Stack resource operator mode "
    "declares for the request (docs/operator.md) instead of the resources it builds."
)


def print_operator_stack(base: Path, name: str, kind: str, output: OutputFormat) -> None:
    """Print the Stack manifest on stdout; what it cannot show goes to stderr."""
    if kind not in RENDER_AS:
        raise typer.BadParameter(
            f"{kind!r} is not one of {', '.join(RENDER_AS)}", param_hint="--as"
        )
    if output is OutputFormat.json:
        fail("--as operator-stack prints a YAML manifest; leave out --format json", EXIT_INVALID)
    from change_mgmt.environments.operator_stack import render_operator_stack, to_yaml
    from policies.config import CONFIG_FILE, PACK_DIR, load_config

    with user_errors():
        policy = load_config(base / PACK_DIR / CONFIG_FILE, shown_path=f"{PACK_DIR}/{CONFIG_FILE}")
        rendered = render_operator_stack(base, name, now=datetime.now(UTC), policy=policy)
    if rendered.document is None:
        err.print(
            f"{escape(name)} has expired: operator mode declares no Stack for it, so the "
            "operator destroys the environment (docs/operator.md)"
        )
        return
    typer.echo(to_yaml(rendered.document), nl=False)
    if rendered.repo_url_is_placeholder:
        err.print(
            "note: projectRepo is the \\[placeholder] operatorRepoUrl of Pulumi.yaml; "
            "commit is this checkout's HEAD, as a platform update from it would pin"
        )
