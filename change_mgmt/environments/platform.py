"""The platform config an ``env-<name>`` stack is deployed with (``sre env up``).

Every environment stack reads the same platform keys (``stacks/platform_config.py``):
the test cluster, its VPC, subnets, security groups, domain, shared database and
bucket, TLS secret and OIDC provider, plus ``aws:region``. Their defaults are the
project config of ``Pulumi.yaml``; the test cluster's real values come from the file
``$SRE_ENV_PLATFORM_CONFIG`` names (stack-file form, ``config: {sre-platform:vpcId:
...}``), which CI keeps. ``sre env up`` writes the merged values into the stack's
config, so each ``Pulumi.env-<name>.yaml`` says what it was deployed with, and refuses
(before Pulumi runs) values that do not validate or that still hold a placeholder.

The one secret, ``sharedDbAdminPassword``, is set (as a secret) only on stacks whose
request asks for a multitenant database, from ``$SRE_SHARED_DB_ADMIN_PASSWORD``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from change_mgmt.documents import DocumentError, Problem, load_yaml_mapping, validation_problems
from change_mgmt.environments.request import EnvironmentRequest
from change_mgmt.errors import SreError
from stacks.platform_config import (
    PLACEHOLDER_MARK,
    PROJECT,
    PROJECT_FILE,
    PlatformConfig,
)

PLATFORM_CONFIG_ENV = "SRE_ENV_PLATFORM_CONFIG"
SHARED_DB_PASSWORD_ENV = "SRE_SHARED_DB_ADMIN_PASSWORD"
SHARED_DB_PASSWORD_KEY = f"{PROJECT}:sharedDbAdminPassword"
MULTITENANT_DATABASE = "aws-multitenant-rds-postgres"
REGION_KEY = "aws:region"

PLATFORM_KEYS: tuple[str, ...] = (
    REGION_KEY,
    *(f"{PROJECT}:{info.alias or name}" for name, info in PlatformConfig.model_fields.items()),
)
"""Every plain key an environment stack's program reads."""


class PlatformConfigRefused(SreError):
    """The platform config cannot deploy an environment (invalid, placeholder, missing)."""


@dataclass(frozen=True)
class StackSettings:
    plain: dict[str, str]
    """Full key → the text ``pulumi config set`` stores (lists as JSON)."""
    secrets: dict[str, str]

    @property
    def shown(self) -> dict[str, str]:
        """What may be printed and hashed: secrets as ``[secret]``."""
        return {**self.plain, **dict.fromkeys(self.secrets, "[secret]")}


class _PlatformFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    config: dict[str, str | list[str]]


def _project_defaults(project_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(defaults, placeholders) of ``Pulumi.yaml``'s platform keys, by full key."""
    path = project_dir / PROJECT_FILE
    try:
        project = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlatformConfigRefused(f"cannot read {path}: {exc}") from None
    declared = project.get("config") if isinstance(project, dict) else None
    defaults: dict[str, Any] = {}
    placeholders: dict[str, Any] = {}
    for key, spec in (declared or {}).items():
        full = str(key) if ":" in str(key) else f"{PROJECT}:{key}"
        if full not in PLATFORM_KEYS:
            continue
        value = spec.get("default") if isinstance(spec, dict) else spec
        if value is None:
            continue
        defaults[full] = value
        if isinstance(spec, dict) and str(spec.get("description", "")).startswith(PLACEHOLDER_MARK):
            placeholders[full] = value
    return defaults, placeholders


def _overrides() -> dict[str, Any]:
    path_text = os.environ.get(PLATFORM_CONFIG_ENV)
    if not path_text:
        return {}
    path = Path(path_text)
    document = load_yaml_mapping(path, display_path=f"${PLATFORM_CONFIG_ENV} ({path})")
    try:
        settings = _PlatformFile.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, _PlatformFile)) from None
    unknown = [key for key in settings.config if key not in PLATFORM_KEYS]
    if unknown:
        problems = []
        for key in unknown:
            line, column = document.position(("config", key))
            problems.append(
                Problem(
                    document.path,
                    line,
                    column,
                    f"config.{key}",
                    "not a platform key of environment stacks; they are "
                    + ", ".join(PLATFORM_KEYS),
                )
            )
        raise DocumentError(problems)
    return dict(settings.config)


def _holds_placeholder(value: Any, placeholder: Any) -> bool:
    if isinstance(placeholder, list):
        return isinstance(value, list) and any(item in placeholder for item in value)
    return bool(value == placeholder)


def stack_settings(project_dir: Path, request: EnvironmentRequest) -> StackSettings:
    """The config ``env-<request.name>`` is deployed with, validated as the program will."""
    defaults, placeholders = _project_defaults(project_dir)
    merged = {**defaults, **_overrides()}
    by_alias = {key.split(":", 1)[1]: value for key, value in merged.items() if key != REGION_KEY}
    try:
        PlatformConfig.model_validate(by_alias)
    except ValidationError as exc:
        lines = [
            f"  {PROJECT}:{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise PlatformConfigRefused(
            "the platform config of environment stacks is invalid:\n" + "\n".join(lines)
        ) from None
    still = [key for key, value in placeholders.items() if _holds_placeholder(merged[key], value)]
    if still:
        raise PlatformConfigRefused(
            "the platform config still holds the placeholders of Pulumi.yaml for "
            + ", ".join(still)
            + f"; give the test cluster's values in the file ${PLATFORM_CONFIG_ENV} names "
            "(config: {sre-platform:<key>: <value>}); docs/environments.md"
        )
    plain = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in sorted(merged.items())
    }
    secrets: dict[str, str] = {}
    if request.database == MULTITENANT_DATABASE:
        password = os.environ.get(SHARED_DB_PASSWORD_ENV)
        if not password:
            raise PlatformConfigRefused(
                f"environment {request.name} asks for a multitenant database "
                f"({MULTITENANT_DATABASE}): set ${SHARED_DB_PASSWORD_ENV} (the shared "
                f"cluster's provisioning password; stored as the secret {SHARED_DB_PASSWORD_KEY})"
            )
        secrets[SHARED_DB_PASSWORD_KEY] = password
    return StackSettings(plain=plain, secrets=secrets)
