"""All environment requests of a repository: load, validate in context, report state.

Validation here adds what a single document cannot know: the file name, the other
requests (names are unique), the clock, and whether the request is new or changed
(only those must expire within the lifetime window; a request that simply ran past its
expiry is reported as expired, never as an error that would break unrelated pull
requests).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError

from change_mgmt.documents import (
    DOCUMENT_FIELD,
    DocumentError,
    LoadedDocument,
    Problem,
    load_yaml_mapping,
    validation_problems,
)
from change_mgmt.environments.request import EnvironmentRequest

REQUESTS_DIR = Path("stacks") / "environments"
REQUEST_SUFFIX = ".yaml"
MAX_REQUEST_BYTES = 64 * 1024
EXPIRING_WITHIN = timedelta(hours=24)


class EnvironmentState(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"


def state_of(request: EnvironmentRequest, now: datetime) -> EnvironmentState:
    if request.expires_at <= now:
        return EnvironmentState.EXPIRED
    if request.expires_at - now <= EXPIRING_WITHIN:
        return EnvironmentState.EXPIRING
    return EnvironmentState.ACTIVE


@dataclass(frozen=True)
class LoadedRequest:
    path: Path
    shown_path: str
    request: EnvironmentRequest
    document: LoadedDocument


@dataclass
class ValidationReport:
    """Outcome of validating a set of request files."""

    checked: list[str] = field(default_factory=list)
    valid: list[LoadedRequest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def expired(self, now: datetime) -> list[LoadedRequest]:
        return [r for r in self.valid if state_of(r.request, now) is EnvironmentState.EXPIRED]


def display_path(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def request_files(requests_dir: Path) -> list[Path]:
    """Every request file in the directory, sorted (no recursion: one flat namespace)."""
    if not requests_dir.is_dir():
        return []
    return sorted(
        p for p in requests_dir.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
    )


def load_request(
    path: Path,
    *,
    shown_path: str | None = None,
    now: datetime | None = None,
    check_lifetime: bool = False,
) -> LoadedRequest:
    """Load and validate one request file; ``DocumentError`` lists every problem."""
    shown = shown_path or str(path)
    document = load_yaml_mapping(path, display_path=shown, max_bytes=MAX_REQUEST_BYTES)
    context = {"now": now or datetime.now(UTC), "check_lifetime": check_lifetime}
    try:
        request = EnvironmentRequest.model_validate(document.data, context=context)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, EnvironmentRequest)) from None
    problems = []
    if path.suffix != REQUEST_SUFFIX:
        problems.append(
            Problem(
                shown,
                1,
                1,
                DOCUMENT_FIELD,
                f"request files end in {REQUEST_SUFFIX}; rename to {path.stem}{REQUEST_SUFFIX}",
            )
        )
    if request.name != path.stem:
        problems.append(
            document.problem(
                ("name",),
                f"{request.name!r} does not match the file name {path.name!r}; they must be equal",
            )
        )
    if problems:
        raise DocumentError(problems)
    return LoadedRequest(path=path, shown_path=shown, request=request, document=document)


def validate_requests(
    paths: Iterable[Path],
    *,
    all_requests: Iterable[Path],
    base: Path,
    now: datetime,
    is_new_or_changed: set[Path] | None,
) -> ValidationReport:
    """Validate ``paths`` against each other and against ``all_requests``.

    ``is_new_or_changed`` holds the resolved paths whose lifetime window is enforced;
    ``None`` means all of them (no git history to tell).
    """
    report = ValidationReport()
    owners: dict[str, str] = {}
    checked = list(dict.fromkeys(paths))
    for other in all_requests:
        if other.resolve() not in {p.resolve() for p in checked}:
            owners.setdefault(_claimed_name(other), display_path(other, base))
    for path in checked:
        shown = display_path(path, base)
        report.checked.append(shown)
        strict = is_new_or_changed is None or path.resolve() in is_new_or_changed
        try:
            loaded = load_request(path, shown_path=shown, now=now, check_lifetime=strict)
        except DocumentError as exc:
            report.problems.extend(exc.problems)
            continue
        name = loaded.request.name
        if name in owners:
            report.problems.append(
                loaded.document.problem(("name",), f"{name!r} is already used by {owners[name]}")
            )
            continue
        owners[name] = shown
        report.valid.append(loaded)
    report.problems.sort()
    return report


def _claimed_name(path: Path) -> str:
    """The name another request claims: its ``name`` field if readable, else its file stem."""
    try:
        document = load_yaml_mapping(path, max_bytes=MAX_REQUEST_BYTES)
    except DocumentError:
        return path.stem
    name = document.data.get("name")
    return name if isinstance(name, str) else path.stem
