"""Typed, validated platform configuration for test-environment stacks.

Stacks are the only code that reads ``pulumi.Config``. Everything is read once, at
start-up, into a pydantic model, so a missing or malformed key stops the program with
one message naming the key and how to set it, before any resource is declared.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.test_environment.args import PlatformSettings

PROJECT = "sre-platform"

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
        )


_LIST_KEYS = {"dbSecurityGroupIds"}


def read_platform_config() -> PlatformConfig:
    """Read and validate every platform key from the current stack's config."""
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for name, info in PlatformConfig.model_fields.items():
        key = info.alias or name
        value = config.get(key)
        if value is None:
            continue
        if key in _LIST_KEYS:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raw[key] = [part.strip() for part in value.split(",") if part.strip()]
        else:
            raw[key] = value
    try:
        return PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            key = ".".join(str(part) for part in error["loc"])
            hint = f"set it with `pulumi config set {PROJECT}:{key} <value>`"
            lines.append(f"  {PROJECT}:{key}: {error['msg']} ({hint})")
        raise StackConfigError("invalid stack configuration:\n" + "\n".join(lines)) from None


def shared_db_admin_password() -> pulumi.Output[str]:
    """The shared cluster's provisioning password; required only for multitenant databases."""
    config = pulumi.Config(PROJECT)
    if config.get("sharedDbAdminPassword") is None:
        raise StackConfigError(
            f"{PROJECT}:sharedDbAdminPassword is not set; a multitenant database needs it: "
            f"`pulumi config set --secret {PROJECT}:sharedDbAdminPassword <password>`"
        )
    return config.require_secret("sharedDbAdminPassword")
