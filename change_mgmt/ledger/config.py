"""Where the ledger (and the ticket outbox) live: ``SRE_LEDGER_URL``, else ``ledger.yaml``.

::

    SRE_LEDGER_URL=dynamodb://sre-ledger?region=eu-west-1   # a shared DynamoDB table
    SRE_LEDGER_URL=sqlite:///abs/path/ledger.sqlite3        # one SQLite file
    (unset, and no ledger.yaml)                             # .sre/ledger.sqlite3

``ledger.yaml`` at the repository root (``url: dynamodb://...``) says the same for every
checkout; the variable wins over the file, so a CI job can point at its own table. A
URL that cannot be read is invalid input (exit 2), never a silent fallback to SQLite:
a runner that wrote to a local file while the team reads the shared table would lose
its records with the runner.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from change_mgmt.documents import (
    DocumentError,
    Problem,
    load_yaml_mapping,
    validation_problems,
)

LEDGER_URL_ENV = "SRE_LEDGER_URL"
CONFIG_FILE = "ledger.yaml"
SQLITE_LEDGER = Path(".sre") / "ledger.sqlite3"
SQLITE_OUTBOX = Path(".sre") / "outbox.sqlite3"
# DynamoDB table names: 3-255 of letters, digits, '_', '-', '.'.
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_CREDENTIALS = re.compile(r"//[^/?#]*@")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+){1,3}-[0-9]$")


@dataclass(frozen=True)
class LedgerLocation:
    """One parsed ledger URL."""

    kind: Literal["sqlite", "dynamodb"]
    url: str
    path: Path | None = None
    """SQLite: the ledger file (the outbox sits next to it as ``outbox.sqlite3``)."""
    table: str | None = None
    region: str | None = None

    @property
    def shared(self) -> bool:
        return self.kind == "dynamodb"

    @property
    def outbox_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(SQLITE_OUTBOX.name)


class _LedgerFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str


def default_location(repo_root: Path) -> LedgerLocation:
    path = repo_root / SQLITE_LEDGER
    return LedgerLocation("sqlite", f"sqlite:///{path}", path=path)


def parse_ledger_url(text: str, *, source: str = LEDGER_URL_ENV, line: int = 1) -> LedgerLocation:
    """``dynamodb://TABLE?region=REGION`` or ``sqlite:///ABSOLUTE/PATH``; anything else
    is a :class:`DocumentError` naming ``source``."""

    def invalid(why: str) -> DocumentError:
        shown = _CREDENTIALS.sub("//***@", text)  # never echo a password
        shown = shown if len(shown) <= 80 else shown[:80] + "…"
        return DocumentError(
            [
                Problem(
                    source,
                    line,
                    1,
                    "url",
                    f"{shown!r} is not a ledger URL: {why}; give dynamodb://TABLE?region="
                    "REGION or sqlite:///ABSOLUTE/PATH",
                )
            ]
        )

    value = text.strip()
    try:
        parts = urlsplit(value)
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if parts.fragment or parts.username or parts.password:
        raise invalid("no credentials or fragment belong in it")
    if parts.scheme == "sqlite":
        if parts.netloc or query:
            raise invalid("a sqlite URL has no host or query (three slashes)")
        if not parts.path.startswith("/") or parts.path.endswith("/"):
            raise invalid("a sqlite URL names an absolute file path")
        return LedgerLocation("sqlite", value, path=Path(parts.path))
    if parts.scheme == "dynamodb":
        table = parts.netloc
        if not _TABLE.match(table) or parts.path not in ("", "/"):
            raise invalid("the table name is 3-255 of letters, digits, '_', '-' and '.'")
        unknown = sorted(set(query) - {"region"})
        if unknown:
            raise invalid(f"unknown parameter {unknown[0]!r} (only region)")
        regions = query.get("region", [])
        if len(regions) != 1 or not _REGION.match(regions[0]):
            raise invalid("it needs one region=REGION (such as eu-west-1)")
        return LedgerLocation("dynamodb", value, table=table, region=regions[0])
    raise invalid(f"unknown scheme {parts.scheme!r}" if parts.scheme else "no scheme")


def ledger_location(repo_root: Path) -> LedgerLocation:
    """The configured ledger of a checkout (see the module docstring)."""
    text = os.environ.get(LEDGER_URL_ENV, "")
    if text.strip():
        return parse_ledger_url(text)
    config = repo_root / CONFIG_FILE
    if not config.is_file():
        return default_location(repo_root)
    document = load_yaml_mapping(config, display_path=CONFIG_FILE)
    try:
        settings = _LedgerFile.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, _LedgerFile)) from None
    line, _ = document.position(("url",))
    return parse_ledger_url(settings.url, source=CONFIG_FILE, line=line)
