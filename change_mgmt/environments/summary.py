"""Human summaries of declared resources, and the one redaction used for their output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.model import is_unknown
from stacks.mock_engine import DeclaredResource, SecretValue

SECRET_PLACEHOLDER = "[secret]"

# Per resource type, the input paths a reviewer wants to see at a glance.
_KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": (
        "engine",
        "engineVersion",
        "instanceClass",
        "allocatedStorage",
        "storageEncrypted",
        "publiclyAccessible",
    ),
    "aws:s3/bucket:Bucket": ("bucket", "forceDestroy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ),
    "aws:iam/role:Role": ("name",),
    "kubernetes:core/v1:Namespace": ("metadata.name",),
    "kubernetes:core/v1:ResourceQuota": ("spec.hard",),
    "kubernetes:core/v1:Secret": ("metadata.name", "type"),
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": ("metadata.name", "spec.policyTypes"),
    "kubernetes:installation.mattermost.com/v1beta1:Mattermost": (
        "spec.size",
        "spec.version",
        "spec.replicas",
        "spec.ingress.host",
    ),
    "postgresql:index/database:Database": ("name",),
    "postgresql:index/role:Role": ("name",),
    "random:index/randomPassword:RandomPassword": ("length",),
}


def redacted(value: Any) -> Any:
    """A JSON-ready copy in which every secret is ``[secret]`` and unknowns are marked."""
    if isinstance(value, SecretValue):
        return SECRET_PLACEHOLDER
    if is_unknown(value):
        return "<computed>"
    if isinstance(value, Mapping):
        return {str(key): redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def _lookup(inputs: Mapping[str, Any], dotted: str) -> Any:
    current: Any = inputs
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _short(value: Any) -> str:
    value = redacted(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ",".join(_short(v) for v in value)
    return str(value)


def key_inputs(resource: DeclaredResource) -> str:
    """``key=value`` pairs of the inputs that matter for this type ("" when none known)."""
    pairs = []
    for path in _KEY_INPUTS.get(resource.type, ()):
        value = _lookup(resource.inputs, path)
        if value is not None:
            pairs.append(f"{path.rsplit('.', 1)[-1]}={_short(value)}")
    return " ".join(pairs)


def provider_urn(resource: DeclaredResource) -> str:
    """The URN of the provider that manages ``resource`` ("" for the default provider).

    The engine's reference is ``<provider URN>::<provider ID>``; the ID says nothing to a
    reviewer."""
    urn, separator, _ = resource.provider.rpartition("::")
    return urn if separator else resource.provider


def depends_on(resource: DeclaredResource) -> list[str]:
    """URNs of the resources ``resource`` waits for, sorted: its explicit ``depends_on``
    and those its inputs come from."""
    from_inputs = {urn for urns in resource.property_dependencies.values() for urn in urns}
    return sorted(from_inputs | set(resource.dependencies))


def resource_document(resource: DeclaredResource) -> dict[str, Any]:
    """One resource as ``--format json`` lists it: identity, redacted inputs, and the
    options a reviewer checks."""
    return {
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent_name,
        "urn": resource.urn,
        "inputs": redacted(resource.inputs),
        "protect": resource.protect,
        "provider": provider_urn(resource),
        "dependsOn": depends_on(resource),
    }
