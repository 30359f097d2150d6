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
from change_mgmt.environments.request import EnvironmentRequest, secret_problems
from policies.config import DEFAULT_CONFIG, PolicyConfig

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


def folder_entries(requests_dir: Path) -> list[Path]:
    """Everything in the requests folder, sorted: requests and anything else."""
    if not requests_dir.is_dir():
        return []
    return sorted(requests_dir.iterdir())


def is_request_file(path: Path) -> bool:
    """A ``<name>.yaml`` file: the only entries of the folder that are ever deployed."""
    return path.suffix == REQUEST_SUFFIX and path.is_file()


def request_files(requests_dir: Path) -> list[Path]:
    """Every request file in the directory, sorted (no recursion: one flat namespace)."""
    return [p for p in folder_entries(requests_dir) if is_request_file(p)]


def stray_problem(path: Path, shown: str) -> Problem | None:
    """Why ``path`` is not a request file, else ``None``: nothing in the folder may be
    skipped silently, since a skipped file is neither validated nor deployed."""
    if is_request_file(path):
        return None
    if path.is_dir():
        message = (
            "is a directory; requests are read only from "
            f"{REQUESTS_DIR}/<name>{REQUEST_SUFFIX}, not from subdirectories"
        )
    elif not path.exists():
        message = "no such file"
    elif path.suffix.lower() in (".yaml", ".yml"):
        message = (
            f"request files end in {REQUEST_SUFFIX} (lower case); "
            f"rename to {path.stem}{REQUEST_SUFFIX}"
        )
    else:
        message = (
            f"not a request file: only <name>{REQUEST_SUFFIX} request files belong in "
            f"{REQUESTS_DIR}/ (this one would never be deployed); "
            f"move it elsewhere or write it as {path.stem}{REQUEST_SUFFIX}"
        )
    return Problem(shown, 1, 1, DOCUMENT_FIELD, message)


def load_request(
    path: Path,
    *,
    shown_path: str | None = None,
    now: datetime | None = None,
    check_lifetime: bool = False,
    policy: PolicyConfig | None = None,
) -> LoadedRequest:
    """Load and validate one request file; ``DocumentError`` lists every problem.

    ``policy`` is the repository's policy pack settings: what the pack refuses for a
    test environment (its size), validation refuses too. ``None`` leaves that to the
    caller: the stack program, whose component refuses it as the pack's finding.
    """
    shown = shown_path or str(path)
    stray = stray_problem(path, shown)
    if stray:
        raise DocumentError([stray])
    document = load_yaml_mapping(path, display_path=shown, max_bytes=MAX_REQUEST_BYTES)
    context = {"now": now or datetime.now(UTC), "check_lifetime": check_lifetime, "policy": policy}
    try:
        request = EnvironmentRequest.model_validate(document.data, context=context)
    except ValidationError as exc:
        raise DocumentError(_problems(exc, document)) from None
    problems = []
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


def _problems(error: ValidationError, document: LoadedDocument) -> list[Problem]:
    """The model's problems, with every credential-shaped literal reported at its place
    instead of any other problem there (whose advice could echo the value or keep it)."""
    secrets = [
        document.problem(location, why, at_key=at_key)
        for location, at_key, why in secret_problems(document.data)
    ]
    taken = {problem.field for problem in secrets}
    others = [
        problem
        for problem in validation_problems(error, document, EnvironmentRequest)
        if not any(_within(problem.field, field) for field in taken)
    ]
    return secrets + others


def _within(field: str, parent: str) -> bool:
    return field == parent or field.startswith((f"{parent}.", f"{parent}["))


def validate_requests(
    paths: Iterable[Path],
    *,
    all_requests: Iterable[Path],
    base: Path,
    now: datetime,
    is_new_or_changed: set[Path] | None,
    policy: PolicyConfig = DEFAULT_CONFIG,
) -> ValidationReport:
    """Validate ``paths`` against each other and against ``all_requests``; each file is
    judged on its own, and every problem of every file is reported.

    ``is_new_or_changed`` holds the resolved paths whose lifetime window is enforced;
    ``None`` means all of them (no git history to tell).
    """
    report = ValidationReport()
    owners: dict[str, str] = {}
    checked = list(dict.fromkeys(paths))
    resolved = {p.resolve() for p in checked}  # once: per request it made validate O(n²)
    for other in all_requests:
        if other.resolve() not in resolved:
            owners.setdefault(_claimed_name(other), display_path(other, base))
    for path in checked:
        shown = display_path(path, base)
        report.checked.append(shown)
        strict = is_new_or_changed is None or path.resolve() in is_new_or_changed
        try:
            loaded = load_request(
                path, shown_path=shown, now=now, check_lifetime=strict, policy=policy
            )
        except DocumentError as exc:
            report.problems.extend(exc.problems)
            continue
        except Exception as exc:  # one file's failure never hides the others
            report.problems.append(_unexpected(shown, exc))
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


def _unexpected(shown: str, exc: Exception) -> Problem:
    """A failure the validator did not foresee: the file is invalid (fail closed), and the
    message names only the kind of failure, never text that could hold a secret."""
    return Problem(
        shown,
        1,
        1,
        DOCUMENT_FIELD,
        f"could not be validated ({type(exc).__name__}); this is a bug in sre, please report it",
    )


def _claimed_name(path: Path) -> str:
    """The name another request claims: its ``name`` field if readable, else its file stem."""
    try:
        document = load_yaml_mapping(path, max_bytes=MAX_REQUEST_BYTES)
    except Exception:  # whatever is wrong with it is reported when it is validated
        return path.stem
    name = document.data.get("name")
    return name if isinstance(name, str) else path.stem
