"""Shared builders for policy tests: hand-made resources and contexts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from policies.config import DEFAULT_CONFIG, PolicyConfig
from policies.model import Resource, RuleContext, Tier

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROJECT = "sre-platform"


def urn(stack: str, type_token: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_token}::{name}"


def resource(
    type_token: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    stack: str = "prod",
    protect: bool = False,
    property_dependencies: dict[str, tuple[str, ...]] | None = None,
) -> Resource:
    return Resource(
        type=type_token,
        name=name,
        urn=urn(stack, type_token, name),
        inputs=inputs or {},
        protect=protect,
        property_dependencies=property_dependencies or {},
    )


def context(
    tier: Tier = "production", *, stack: str = "prod", config: PolicyConfig = DEFAULT_CONFIG
) -> RuleContext:
    return RuleContext(stack=stack, tier=tier, config=config, now=NOW)
