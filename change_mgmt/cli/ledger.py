"""``sre ledger``: where change records are kept, and moving them to a shared table."""

from __future__ import annotations

from pathlib import Path

import typer

from change_mgmt.cli.common import (
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.cli.help import SreTyper

app = SreTyper(
    help=(
        "The storage of change records and queued ticket updates: the embedded SQLite "
        "ledger (.sre/ledger.sqlite3, the default) or a DynamoDB table shared by every "
        "runner, chosen by $SRE_LEDGER_URL or ledger.yaml (docs/ledger.md).\n\n"
        "Exit codes: 0 success; 1 the command failed (table unreachable, target not "
        "empty); 2 bad input (a ledger URL that is not valid)."
    ),
)

UrlOption = typer.Option(
    None,
    "--url",
    metavar="URL",
    help="The ledger to set up (dynamodb://TABLE?region=REGION); default: the configured one.",
)


@app.command()
def init(
    url: str | None = UrlOption,
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Create the ledger where it is missing: the DynamoDB table (on-demand capacity,
    encrypted, keys pk and sk) or the SQLite file. Running it again changes nothing.

    JSON: schema, url, kind (dynamodb|sqlite), created (true when this run created it),
    and table and region, or path.

    Exit codes: 0 created or already there; 1 it cannot be created (no access, a table
    of that name that is not a ledger); 2 the URL is not valid.
    """
    from change_mgmt.ledger.config import ledger_location, parse_ledger_url
    from change_mgmt.ledger.store import Ledger

    with user_errors():
        base = project_dir(directory)
        location = parse_ledger_url(url, source="--url") if url else ledger_location(base)
        document: dict[str, object] = {
            "schema": "sre-platform/ledger-init/v1",
            "url": location.url,
            "kind": location.kind,
        }
        if location.kind == "dynamodb":
            from change_mgmt.ledger.dynamo_admin import init_table

            result = init_table(location)
            document |= {"table": result.table, "region": result.region}
            created, what = result.created, f"DynamoDB table {result.table} ({result.region})"
        else:
            assert location.path is not None
            created = not location.path.exists()
            if location == ledger_location(base):
                Ledger.for_repository(base)
            else:
                Ledger(location.path)
            document["path"] = str(location.path)
            what = f"SQLite ledger {location.path}"
    document["created"] = created
    if output is OutputFormat.json:
        print_json(document)
        return
    out.print(f"created {what}" if created else f"{what} exists already; nothing to do")


@app.command()
def migrate(
    to: str = typer.Option(
        ..., "--to", metavar="URL", help="The empty DynamoDB ledger: dynamodb://TABLE?region=R."
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Copy this checkout's SQLite ledger and outbox into an empty DynamoDB ledger: every
    record with its id, state, state times, history, evidence and ticket key, the local
    approvals, the reminders and the outbox (delivered entries too). The SQLite files
    are left as they are. Run `sre ledger init --url URL` first; then set SRE_LEDGER_URL.

    JSON: schema, to, and the counts copied: changes, transitions, approvals, reminders,
    outbox.

    Exit codes: 0 copied; 1 the target is not empty or cannot be written; 2 the URL is
    not valid or not a DynamoDB URL.
    """
    from change_mgmt.documents import DocumentError, Problem
    from change_mgmt.ledger.config import SQLITE_LEDGER, SQLITE_OUTBOX, parse_ledger_url

    with user_errors():
        base = project_dir(directory)
        target = parse_ledger_url(to, source="--to")
        if target.kind != "dynamodb":
            raise DocumentError(
                [Problem("--to", 1, 1, "url", "migrate copies into DynamoDB: dynamodb://...")]
            )
        from change_mgmt.ledger.dynamo_admin import migrate as copy

        result = copy(base / SQLITE_LEDGER, base / SQLITE_OUTBOX, target)
    counts = {
        "changes": result.changes,
        "transitions": result.transitions,
        "approvals": result.approvals,
        "reminders": result.reminders,
        "outbox": result.outbox,
    }
    if output is OutputFormat.json:
        print_json({"schema": "sre-platform/ledger-migrate/v1", "to": target.url, **counts})
        return
    copied = ", ".join(f"{count} {name}" for name, count in counts.items())
    out.print(f"copied into {target.table} ({target.region}): {copied}")
