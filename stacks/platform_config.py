"""Typed, validated platform configuration for test-environment stacks.

Stacks are the only code that reads ``pulumi.Config``. Everything is read once, at
start-up, into a pydantic model, so a missing or malformed key stops the program with
one message naming the key and how to set it, before any resource is declared.

Pulumi.yaml marks the defaults that only stand in for real values (a description that
starts with ``[placeholder]``): the one list of them. Previews, mocks and ``sre env
render`` use them; a real update (``pulumi.runtime.is_dry_run()`` false, the same test
``stacks/production_guard.py`` makes) refuses while any is still set, naming the
``pulumi config set`` for each. A value equal to its placeholder counts as not set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pulumi
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.test_environment.args import PlatformSettings
from components.test_environment.validation import TLS_SECRET_REF

PROJECT = "sre-platform"
PROJECT_FILE = "Pulumi.yaml"
PLACEHOLDER_MARK = "[placeholder]"

_NonEmpty = Annotated[str, Field(min_length=1)]


class StackConfigError(pulumi.RunError):
    """Stack configuration is missing or malformed (shown without a traceback)."""


class PlatformConfig(BaseModel):
    """Project-level config keys (defaults live in Pulumi.yaml, overridable per stack)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    cluster: _NonEmpty
    vpc_id: Annotated[str, Field(alias="vpcId", pattern=r"^vpc-[0-9a-f]{8,17}$")]
    db_subnet_group: Annotated[str, Field(alias="dbSubnetGroup", min_length=1)]
    db_security_group_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]],
        Field(alias="dbSecurityGroupIds", min_length=1),
    ]
    test_domain: Annotated[
        str, Field(alias="testDomain", pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")
    ]
    ingress_class: Annotated[str, Field(alias="ingressClass", min_length=1)]
    shared_db_endpoint: Annotated[str, Field(alias="sharedDbEndpoint", min_length=1)]
    shared_db_admin_user: Annotated[str, Field(alias="sharedDbAdminUser", min_length=1)]
    shared_bucket: Annotated[
        str, Field(alias="sharedBucket", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    ]
    oidc_provider_arn: Annotated[
        str,
        Field(alias="oidcProviderArn", pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$"),
    ]
    tls_secret: Annotated[str, Field(alias="testTlsSecret", pattern=TLS_SECRET_REF.pattern)]

    def settings(self) -> PlatformSettings:
        return PlatformSettings(
            cluster=self.cluster,
            vpc_id=self.vpc_id,
            db_subnet_group=self.db_subnet_group,
            db_security_group_ids=tuple(self.db_security_group_ids),
            test_domain=self.test_domain,
            ingress_class=self.ingress_class,
            shared_db_endpoint=self.shared_db_endpoint,
            shared_bucket=self.shared_bucket,
            oidc_provider_arn=self.oidc_provider_arn,
            tls_secret=self.tls_secret,
        )


_LIST_KEYS = {"dbSecurityGroupIds"}


def raw_config(
    model: type[BaseModel],
    *,
    lists: frozenset[str] | set[str] = frozenset(),
    documents: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    """The stack's plain config values of ``model``'s keys, by alias. ``lists`` are JSON
    lists or comma-separated text; ``documents`` are JSON (``--path`` settings), kept as
    text when they are not, so validation names them."""
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = config.get(key)
        if value is None:
            continue
        if key in lists or key in documents:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raw[key] = (
                    [part.strip() for part in value.split(",") if part.strip()]
                    if key in lists
                    else value
                )
        else:
            raw[key] = value
    return raw


def read_platform_config(project_dir: Path) -> PlatformConfig:
    """Read and validate every platform key from the current stack's config; a real
    update also refuses the placeholders of ``project_dir``'s Pulumi.yaml."""
    raw = raw_config(PlatformConfig, lists=_LIST_KEYS)
    try:
        platform = PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            key = ".".join(str(part) for part in error["loc"])
            hint = f"set it with `pulumi config set {PROJECT}:{key} <value>`"
            lines.append(f"  {PROJECT}:{key}: {error['msg']} ({hint})")
        raise StackConfigError("invalid stack configuration:\n" + "\n".join(lines)) from None
    if not pulumi.runtime.is_dry_run():
        refuse_placeholders(
            raw, placeholder_defaults(project_dir / PROJECT_FILE), pulumi.get_stack()
        )
    return platform


def placeholder_defaults(project_file: Path) -> dict[str, Any]:
    """Each key whose Pulumi.yaml description starts with the mark, with its default."""
    try:
        project = yaml.safe_load(project_file.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StackConfigError(f"cannot read {project_file}: {exc}") from None
    declared = project.get("config") if isinstance(project, dict) else None
    placeholders: dict[str, Any] = {}
    for key, spec in (declared or {}).items():
        if not isinstance(spec, dict) or "default" not in spec:
            continue
        if str(spec.get("description", "")).startswith(PLACEHOLDER_MARK):
            placeholders[str(key)] = spec["default"]
    return placeholders


def refuse_placeholders(raw: dict[str, Any], placeholders: dict[str, Any], stack: str) -> None:
    """Stop with one message naming every key that still holds its placeholder (for a
    list: any placeholder item) and the command that sets it."""
    still_set = [key for key, value in placeholders.items() if _holds(raw.get(key), value)]
    if not still_set:
        return
    commands = "\n".join(
        f"  pulumi config set --stack {stack} {PROJECT}:{key} "
        + ("<value>[,<value>...]" if isinstance(placeholders[key], list) else "<value>")
        for key in still_set
    )
    raise StackConfigError(
        f"stack {stack!r} still has placeholder settings from {PROJECT_FILE} (they serve "
        "previews and `sre env render` only); a real update needs the cluster's own:\n" + commands
    )


def _holds(value: Any, placeholder: Any) -> bool:
    if isinstance(placeholder, list):
        return isinstance(value, list) and any(item in placeholder for item in value)
    return bool(value == placeholder)


def shared_db_admin_password() -> pulumi.Output[str]:
    """The shared cluster's provisioning password; required only for multitenant databases."""
    config = pulumi.Config(PROJECT)
    if config.get("sharedDbAdminPassword") is None:
        raise StackConfigError(
            f"{PROJECT}:sharedDbAdminPassword is not set; a multitenant database needs it: "
            f"`pulumi config set --secret {PROJECT}:sharedDbAdminPassword <password>`"
        )
    return config.require_secret("sharedDbAdminPassword")
