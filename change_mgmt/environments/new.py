"""Write a new, valid request file with documented defaults (``sre env new``)."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from change_mgmt.environments.catalog import REQUEST_SUFFIX
from change_mgmt.environments.request import (
    DEFAULT_IMAGE,
    DEFAULT_TTL,
    MAX_LIFETIME,
    EnvironmentRequest,
    format_expiry,
)
from change_mgmt.errors import SreError
from components.test_environment.args import DEFAULT_DATABASE
from policies.config import DEFAULT_CONFIG, PolicyConfig

DEFAULT_VERSION = "10.11.2"
_TTL_PART = re.compile(r"(\d+)([dhm])")
_UNIT = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


class RequestWriteError(SreError):
    """The request file could not be written (a disk or permission problem, not bad input)."""


class NewRequestError(SreError):
    """The new request cannot be written as asked."""


def parse_ttl(text: str) -> timedelta:
    """``72h``, ``5d``, ``1d12h``, ``90m`` → a duration; at most 14 days."""
    compact = text.strip().lower().replace(" ", "")
    parts = _TTL_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise NewRequestError(f"--ttl {text!r} is not a duration like 72h, 5d or 1d12h")
    ttl = sum((int(n) * _UNIT[u] for n, u in parts), timedelta())
    if ttl <= timedelta(0):
        raise NewRequestError(f"--ttl {text!r} must be longer than zero")
    if ttl > MAX_LIFETIME:
        raise NewRequestError(f"--ttl {text!r} is longer than the 14-day maximum (14d)")
    return ttl


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def request_text(request: EnvironmentRequest) -> str:
    """The request as a commented YAML file (fields and comments as in docs/environments.md)."""
    return f"""\
# Test environment request — see docs/environments.md.
# Check it with: sre env validate stacks/environments/{request.name}{REQUEST_SUFFIX}
name: {request.name}
owner: {request.owner}
team: {request.team}
purpose: {_quoted(request.purpose)}
# miniSingleton | miniHA | 100users | 1000users | 5000users | 10000users | 25000users
size: {request.size}
version: {_quoted(request.version)}
image: {request.image}
# PostgreSQL: aws-multitenant-rds-postgres (shared cluster) | aws-rds-postgres (own RDS)
# MySQL (deprecated by Mattermost): operator-managed
database: {request.database}
# operator-managed | aws-s3 | aws-multitenant-s3
filestore: {request.filestore}
# UTC; at most 14 days ahead. After this moment the environment is reported as expired.
expires_at: {format_expiry(request.expires_at)}
# App settings. Credentials must reference a Secret: NAME: {{secret: my-secret, key: password}}
env: {{}}
labels: {{}}
"""


def new_request(
    *,
    name: str,
    owner: str,
    team: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    size: str = "miniSingleton",
    version: str = DEFAULT_VERSION,
    image: str = DEFAULT_IMAGE,
    database: str = DEFAULT_DATABASE,
    filestore: str = "operator-managed",
    purpose: str | None = None,
    policy: PolicyConfig = DEFAULT_CONFIG,
) -> EnvironmentRequest:
    """Build and validate the request exactly as ``sre env validate`` will check it
    (``policy``: the repository's policy pack settings)."""
    data = {
        "name": name,
        "owner": owner,
        "team": team,
        "purpose": purpose or f"Test environment for {team}",
        "size": size,
        "version": version,
        "image": image,
        "database": database,
        "filestore": filestore,
        "expires_at": (now + ttl).replace(microsecond=0),
    }
    try:
        context = {"now": now, "check_lifetime": True, "policy": policy}
        return EnvironmentRequest.model_validate(data, context=context)
    except ValidationError as exc:
        reasons = [
            f"{_option_for(error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False)
        ]
        raise NewRequestError("cannot create this request:\n  " + "\n  ".join(reasons)) from None


def _option_for(location: tuple[str | int, ...]) -> str:
    field = str(location[0]) if location else "request"
    return {"name": "NAME", "expires_at": "--ttl"}.get(field, f"--{field}")


def write_request(
    request: EnvironmentRequest, requests_dir: Path, *, overwrite: bool = False
) -> Path:
    """Write the request file; never clobbers an existing request unless asked to."""
    path = requests_dir / f"{request.name}{REQUEST_SUFFIX}"
    if path.exists() and not overwrite:
        raise NewRequestError(f"{path} already exists; edit it, or pass --force to replace it")
    temporary = path.with_suffix(".yaml.tmp")
    try:
        requests_dir.mkdir(parents=True, exist_ok=True)
        temporary.write_text(request_text(request), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # nothing half-written is left behind
            temporary.unlink(missing_ok=True)
        raise RequestWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
