"""``sre env``: self-serve test environments requested by pull request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from change_mgmt.cli import env_operator
from change_mgmt.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    at_option,
    err,
    fail,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.cli.help import SreTyper
from change_mgmt.documents import DocumentError
from change_mgmt.environments import changes
from change_mgmt.environments.catalog import (
    REQUESTS_DIR,
    EnvironmentState,
    display_path,
    folder_entries,
    load_request,
    request_files,
    state_of,
    validate_requests,
)
from change_mgmt.environments.new import (
    DEFAULT_VERSION,
    NewRequestError,
    new_request,
    parse_ttl,
    write_request,
)
from change_mgmt.environments.request import format_expiry, json_schema
from components.test_environment.args import (
    DATABASE_TYPES,
    DEFAULT_DATABASE,
    FILESTORE_TYPES,
    SIZE_NAMES,
)
from policies.config import CONFIG_FILE, PACK_DIR, PolicyConfig, load_config

if TYPE_CHECKING:
    from change_mgmt.environments.render import RenderedEnvironment

app = SreTyper(
    help=(
        "Self-serve test environments: one YAML request file per environment in "
        f"{REQUESTS_DIR}/, validated on the pull request, deployed on merge as stack "
        "env-<name>; once expired it is reported as such (a later release destroys it).\n\n"
        "Typical flow: `sre env new NAME --owner you@example.com --team TEAM`, edit the "
        "file, `sre env validate`, `sre env render NAME`, open a pull request.\n\n"
        "Exit codes: 0 success; 1 a check failed (a mandatory policy rule in render); "
        "2 invalid input (an option value, a request file, an unknown name or git ref)."
    ),
)


def _clock() -> datetime:
    """Now; where the listings read the clock (tests replace it)."""
    return datetime.now(UTC)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)
    return value


@app.command()
def new(
    name: str = typer.Argument(..., help="Environment name: a DNS label of at most 40 characters."),
    owner: str = typer.Option(
        ..., metavar="EMAIL", help="Your email; you are told before the environment expires."
    ),
    team: str = typer.Option(
        ..., help="Owning team slug, e.g. backend (costs are reported per team)."
    ),
    size: str = typer.Option("miniSingleton", help=f"One of {', '.join(SIZE_NAMES)}."),
    ttl: str = typer.Option(
        "72h", metavar="DURATION", help="Time to live from now, e.g. 72h, 5d, 1d12h (at most 14d)."
    ),
    version: str = typer.Option(DEFAULT_VERSION, help="Mattermost server version."),
    database: str = typer.Option(DEFAULT_DATABASE, help=f"One of {', '.join(DATABASE_TYPES)}."),
    filestore: str = typer.Option("operator-managed", help=f"One of {', '.join(FILESTORE_TYPES)}."),
    purpose: str | None = typer.Option(
        None, metavar="TEXT", help="Why the environment exists, in one line."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing request file of that name."
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Write a valid request file with documented defaults, ready to edit and commit.

    Exit codes: 0 written; 1 the file could not be written; 2 invalid input (a value the
    request refuses, such as a --ttl over 14 days or an --owner that is not an email; a
    file of that name without --force; an invalid policies/config.yaml).
    """
    _choice(size, SIZE_NAMES, "--size")
    _choice(database, DATABASE_TYPES, "--database")
    _choice(filestore, FILESTORE_TYPES, "--filestore")
    with user_errors(NewRequestError):
        base = project_dir(directory)
        request = new_request(
            name=name,
            owner=owner,
            team=team,
            now=datetime.now(UTC),
            ttl=parse_ttl(ttl),
            size=size,
            version=version,
            database=database,
            filestore=filestore,
            purpose=purpose,
            policy=_policy_settings(base),
        )
        path = write_request(request, base / REQUESTS_DIR, overwrite=force)
    err.print(
        f"wrote {escape(display_path(path, base))} (expires {format_expiry(request.expires_at)})"
    )
    err.print(
        "next: edit it, run `sre env validate`, `sre env render "
        + request.name
        + "`, open a pull request"
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of request files (point your editor's YAML plugin at it).

    Exit codes: 0 printed.
    """
    print_json(json_schema())


@app.command()
def validate(
    paths: list[Path] | None = typer.Argument(
        None,
        metavar="PATH",
        help=f"Request files or directories (default: every request in {REQUESTS_DIR}/).",
    ),
    changed_since: str | None = typer.Option(
        None,
        "--changed-since",
        metavar="GIT_REF",
        help=(
            "Only the requests added or modified since the merge base of this ref and HEAD "
            "(what CI runs on a pull request). A name that matches several refs (a tag and a "
            "branch both named main) is refused: give the full ref, e.g. refs/heads/main."
        ),
    ),
    at: datetime | None = at_option(
        "Judge expiry as of this moment (ISO 8601 with offset, e.g. "
        "2026-12-01T09:00:00+00:00; default: now). For what-if checks."
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Validate request files: every problem of every file, one line each.

    Every problem is one line `PATH:LINE:COLUMN: field: message`; each file is judged on
    its own and every problem of every file is reported. Anything in the folder that is
    not a `<name>.yaml` request is an error. Sizes are checked against the policy pack's
    settings (policies/config.yaml). New or changed requests (per git: since
    --changed-since, else since HEAD) must expire within 14 days; an unchanged request
    that ran past its expiry is reported as expired, not as an error.

    Exit codes: 0 every file is valid (an expired one included); 2 a file has a problem,
    or an option is not valid (an unknown --changed-since ref).
    """
    # The formats of --at require an offset, so the moment is always aware.
    now = (at or datetime.now(UTC)).astimezone(UTC)
    with user_errors(changes.GitRefError):
        base = project_dir(directory)
        policy = _policy_settings(base)
        requests_dir = base / REQUESTS_DIR
        every = request_files(requests_dir)
        selected = _expand(paths) if paths else folder_entries(requests_dir)
        new_or_changed: set[Path] | None = None
        if changed_since is not None:
            new_or_changed = changes.changed_files(base, changed_since, requests_dir)
            selected = [p for p in selected if p.resolve() in new_or_changed]
        elif changes.is_git_checkout(base) and changes.has_commits(base):
            new_or_changed = changes.changed_files(base, None, requests_dir)
        report = validate_requests(
            selected,
            all_requests=every,
            base=base,
            now=now,
            is_new_or_changed=new_or_changed,
            policy=policy,
        )
    expired = report.expired(now)
    if output is OutputFormat.json:
        print_json(
            {
                "valid": report.ok,
                "checked": report.checked,
                "problems": [p.as_dict() for p in report.problems],
                "expired": [
                    {
                        "path": r.shown_path,
                        "name": r.request.name,
                        "expires_at": format_expiry(r.request.expires_at),
                    }
                    for r in expired
                ],
            }
        )
    else:
        for problem in report.problems:
            out.print(escape(str(problem)))
        for loaded in expired:
            err.print(
                f"{escape(loaded.shown_path)}: expired at "
                f"{format_expiry(loaded.request.expires_at)}; "
                "remove the file to destroy the environment"
            )
        if not report.checked:
            scope = f" changed since {changed_since}" if changed_since else ""
            err.print(f"no request files{scope} to validate")
        elif report.ok:
            err.print(f"[green]ok[/]: {len(report.checked)} request file(s) valid")
        else:
            invalid = len({p.path for p in report.problems})
            err.print(
                f"[red]invalid[/]: {invalid} of {len(report.checked)} request file(s) have problems"
            )
    if not report.ok:
        raise typer.Exit(EXIT_INVALID)


def _policy_settings(base: Path) -> PolicyConfig:
    """The repository's policy pack settings: what the pack refuses, validation refuses."""
    return load_config(base / PACK_DIR / CONFIG_FILE, shown_path=f"{PACK_DIR}/{CONFIG_FILE}")


def _expand(paths: list[Path]) -> list[Path]:
    expanded: list[Path] = []
    for path in paths:
        expanded.extend(folder_entries(path) if path.is_dir() else [path])
    return expanded


@app.command()
def render(
    name: str = typer.Argument(..., help="Environment name (its request file must exist)."),
    output: OutputFormat = FormatOption,
    as_: str | None = typer.Option(None, "--as", metavar="KIND", help=env_operator.AS_HELP),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Show every resource the env-NAME stack program declares, its monthly cost, and
    the policy pack's findings (exit 1 when a mandatory rule fails).

    The program runs under Pulumi mocks: no cloud account, no Pulumi CLI. This is the
    declared resource set, not a `pulumi preview` (which also compares with what exists).
    With `--as operator-stack` it prints the operator's Stack resource instead (an
    expired request has none).

    Exit codes: 0 rendered, no mandatory finding; 1 a mandatory policy rule failed, or the
    program failed; 2 invalid input (no request of that name, an invalid request).
    """
    base = project_dir(directory)
    if not (base / REQUESTS_DIR / f"{name}.yaml").is_file():
        fail(
            f"no request named {escape(repr(name))} in {REQUESTS_DIR}/ (see `sre env list`)",
            EXIT_INVALID,
        )
    if as_ is not None:
        env_operator.print_operator_stack(base, name, as_, output)
        return
    # Imported here: the provider SDKs take a second to load and only render needs them.
    from change_mgmt.environments.render import render_environment

    with (
        user_errors(),
        err.status(f"evaluating stack env-{escape(name)} under Pulumi mocks…"),
    ):
        rendered = render_environment(base, name)
    if output is OutputFormat.json:
        print_json(_render_json(rendered))
    else:
        _render_text(rendered)
    if not rendered.policy.passed:
        raise typer.Exit(EXIT_FAILED)


def _render_json(rendered: RenderedEnvironment) -> dict[str, Any]:
    from change_mgmt.cli.stack import rendered_document

    document = rendered_document(rendered)
    return {
        "kind": document.pop("kind"),
        "note": document.pop("note"),
        "stack": document.pop("stack"),
        "environment": rendered.request.name,
        "expires_at": format_expiry(rendered.request.expires_at),
        **document,
    }


def _render_text(rendered: RenderedEnvironment) -> None:
    from change_mgmt.cli.stack import print_rendered

    request = rendered.request
    for line in (
        f"[bold]{escape(rendered.stack)}[/] — {escape(request.purpose)}",
        f"owner {escape(str(request.owner))} · team {escape(request.team)} · "
        f"size {request.size} · expires {format_expiry(request.expires_at)}",
    ):
        out.print(line, soft_wrap=False)
    print_rendered(rendered)


@app.command("list")
def list_environments(
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Every request with owner, team, size, expiry and state.

    States: active, expiring (within 24 h), expired, invalid. Narrower than the table,
    each request is printed as a block of `field value` lines.

    Exit codes: 0 listed (an invalid request is listed as invalid); 2 an invalid
    policies/config.yaml.
    """
    now = _clock()
    with user_errors():
        base = project_dir(directory)
        policy = _policy_settings(base)
    rows: list[dict[str, str]] = []
    for path in folder_entries(base / REQUESTS_DIR):
        shown = display_path(path, base)
        try:
            request = load_request(path, shown_path=shown, policy=policy).request
        except DocumentError as exc:
            rows.append(
                {
                    "name": path.stem,
                    "path": shown,
                    "state": "invalid",
                    "problem": str(exc.problems[0]),
                }
            )
            continue
        rows.append(
            {
                "name": request.name,
                "path": shown,
                "owner": str(request.owner),
                "team": request.team,
                "size": request.size,
                "database": request.database,
                "filestore": request.filestore,
                "expires_at": format_expiry(request.expires_at),
                "state": state_of(request, now).value,
                "time_left": _time_left(request.expires_at - now),
            }
        )
    if output is OutputFormat.json:
        print_json({"environments": rows})
        return
    if not rows:
        err.print(f"no requests in {REQUESTS_DIR}/ — create one with `sre env new`")
        return
    from change_mgmt.cli.layout import Field, print_records

    colours = {
        EnvironmentState.EXPIRED: "red",
        EnvironmentState.EXPIRING: "yellow",
        "invalid": "red",
    }
    listed = [
        {
            **{key: escape(value) for key, value in row.items()},
            "state": f"[{colours.get(row['state'], 'green')}]{row['state']}[/]",
        }
        for row in rows
    ]
    fields = ("name", "state", "expires_at", "time_left", "owner", "team", "size")
    print_records(out, [*map(Field, fields), Field("problem", prose=True)], listed)


def _time_left(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    return f"{days}d {hours}h" if days else f"{hours}h {rest % 3600 // 60}m"


from change_mgmt.cli import env_orphans  # noqa: E402  (registered after app exists)

app.command("orphans")(env_orphans.orphans_command)

from change_mgmt.cli import env_remind  # noqa: E402  (registered after app exists)

app.command("remind")(env_remind.remind_command)

from change_mgmt.cli import env_changed, env_comment  # noqa: E402  (registered after app exists)

app.command("changed")(env_changed.changed_command)
app.command("comment")(env_comment.comment_command)

from change_mgmt.cli import env_reap, env_up  # noqa: E402  (registered after app exists)

app.command("up")(env_up.up_command)
app.command("reap")(env_reap.reap_command)
