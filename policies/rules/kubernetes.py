"""Kubernetes workload rules: resources, privileges, pinned images, isolated namespaces.

Workloads are the typed pulumi-kubernetes resources whose inputs hold a pod spec
(``kubernetes:apps/v1:Deployment`` and friends, at ``spec.template.spec``; a CronJob at
``spec.jobTemplate.spec.template.spec``; a Pod at ``spec``), plus the Mattermost custom
resource, whose operator builds the app's pods from ``spec.image``/``spec.version``,
``spec.scheduling.resources``, ``spec.podTemplate`` and ``spec.podExtensions``.
Components (``kubernetes:yaml/v2:ConfigGroup``, Helm charts) are not judged here: their
rendered children are. Server-side-apply patches (``…:DeploymentPatch``) set only part of
an object, so they are judged on what they set and never for what they leave out.

An input that is unknown at preview time is never a violation by itself: it is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.cost import MATTERMOST_TYPE
from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    Violation,
    dig,
    is_unknown,
    resource_rule,
    stack_rule,
    violations,
)

NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY_TYPE = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

# Where each workload kind keeps its pod spec.
_TEMPLATE_SPEC: tuple[str, ...] = ("spec", "template", "spec")
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": _TEMPLATE_SPEC,
    "StatefulSet": _TEMPLATE_SPEC,
    "DaemonSet": _TEMPLATE_SPEC,
    "ReplicaSet": _TEMPLATE_SPEC,
    "ReplicationController": _TEMPLATE_SPEC,
    "Job": _TEMPLATE_SPEC,
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_PATCH_SUFFIX = "Patch"

# Container lists of a pod spec and how a message names their members. Ephemeral
# (debugging) containers may not declare resources, so the resources rule skips them.
_CONTAINER_LISTS: tuple[tuple[str, str], ...] = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)
_RESOURCE_KEYS: tuple[tuple[str, str], ...] = (
    ("requests", "cpu"),
    ("requests", "memory"),
    ("limits", "cpu"),
    ("limits", "memory"),
)
# Pod-level switches that share a host namespace with the node.
_HOST_NAMESPACES: tuple[str, ...] = ("hostNetwork", "hostPID", "hostIPC")
# Added capabilities that amount to a privileged container.
_PRIVILEGED_CAPABILITIES = frozenset({"ALL", "SYS_ADMIN"})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class _Workload:
    kind: str
    patch: bool
    pod_spec: Any  # a mapping, UNKNOWN, or None when absent


def _workload(resource: Resource) -> _Workload | None:
    """The pod-spec holder ``resource`` is, or None when it is not a workload."""
    provider, _, rest = resource.type.partition(":")
    kind = rest.rpartition(":")[2]
    if provider != "kubernetes" or not kind:
        return None
    patch = kind.endswith(_PATCH_SUFFIX) and kind != _PATCH_SUFFIX
    base = kind.removesuffix(_PATCH_SUFFIX) if patch else kind
    path = POD_SPEC_PATHS.get(base)
    if path is None:
        return None
    return _Workload(base, patch, lookup(resource, *path))


def lookup(source: Resource | Any, *path: str) -> Any:
    """The value at ``path`` of a resource's inputs (or of a mapping); see :func:`dig`."""
    return dig(source.inputs if isinstance(source, Resource) else source, *path)


def _what(resource: Resource, kind: str) -> str:
    return f"{kind} '{resource.name}'"


@dataclass(frozen=True)
class _Container:
    label: str  # "container 'app'", "init container 'migrate'"
    where: str  # the list it sits in, e.g. "initContainers"
    spec: Mapping[str, Any]


def _containers(pod_spec: Any, lists: Sequence[tuple[str, str]]) -> Iterator[_Container]:
    """The known containers of ``pod_spec`` (unknown lists and entries are skipped)."""
    if not isinstance(pod_spec, Mapping):
        return
    for key, noun in lists:
        entries = pod_spec.get(key)
        if not isinstance(entries, Sequence) or isinstance(entries, str):
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue
            name = entry.get("name")
            label = f"{noun} '{name}'" if isinstance(name, str) and name else f"{key}[{index}]"
            yield _Container(label, key, entry)


def _missing(value: object) -> bool:
    return value is None or value == ""


def missing_resources(resources: Any) -> list[str]:
    """``requests.cpu`` … ``limits.memory`` absent from a ResourceRequirements value.

    Unknown values count as present (they are known at apply time)."""
    if is_unknown(resources):
        return []
    missing: list[str] = []
    for section, key in _RESOURCE_KEYS:
        values = lookup(resources, section)
        if is_unknown(values):
            continue
        value = values.get(key) if isinstance(values, Mapping) else None
        if not is_unknown(value) and _missing(value):
            missing.append(f"{section}.{key}")
    return missing


def _mattermost_resource_sets(resource: Resource) -> Iterator[tuple[str, str, Any]]:
    """(what, input path, value) of every resource-requirements block of the CR's pods."""
    yield "app", "spec.scheduling.resources", lookup(resource, "spec", "scheduling", "resources")
    for key in ("database", "fileStore"):
        what = "operator-managed database" if key == "database" else "operator-managed file store"
        managed = lookup(resource, "spec", key, "operatorManaged")
        if isinstance(managed, Mapping):
            path = f"spec.{key}.operatorManaged.resources"
            yield what, path, managed.get("resources")


def _mattermost_extension_containers(resource: Resource) -> Iterator[_Container]:
    """Init containers the CR injects into the app's pods (``spec.podExtensions``)."""
    extensions = lookup(resource, "spec", "podExtensions")
    for container in _containers(extensions, (("initContainers", "init container"),)):
        yield _Container(container.label, "spec.podExtensions.initContainers", container.spec)


@resource_rule(
    "k8s-container-resources",
    "Every container declares CPU and memory requests and limits, so the scheduler can "
    "place it and no pod can starve its neighbours.",
    "medium",
    "Set resources.requests.cpu, resources.requests.memory, resources.limits.cpu and "
    "resources.limits.memory on every container and initContainer (for the Mattermost "
    "custom resource: spec.scheduling.resources and, for operator-managed services, "
    "spec.database.operatorManaged.resources / spec.fileStore.operatorManaged.resources).",
)
def container_resources(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type == MATTERMOST_TYPE:
        found = []
        for what, path, value in _mattermost_resource_sets(resource):
            missing = missing_resources(value)
            if missing:
                found.append(
                    f"Mattermost '{resource.name}': {what} ({path}) is missing "
                    + ", ".join(missing)
                )
        for container in _mattermost_extension_containers(resource):
            missing = missing_resources(container.spec.get("resources"))
            if missing:
                found.append(
                    f"Mattermost '{resource.name}' {container.label} ({container.where}) is "
                    "missing " + ", ".join(f"resources.{item}" for item in missing)
                )
        return violations(found, resource.urn)
    workload = _workload(resource)
    if workload is None or workload.patch:
        return NOT_APPLICABLE
    found = []
    lists = [entry for entry in _CONTAINER_LISTS if entry[0] != "ephemeralContainers"]
    for container in _containers(workload.pod_spec, lists):
        missing = missing_resources(container.spec.get("resources"))
        if missing:
            found.append(
                f"{_what(resource, workload.kind)} {container.label} is missing "
                + ", ".join(f"resources.{item}" for item in missing)
            )
    return violations(found, resource.urn)


def _privilege_problems(security_context: Any) -> list[str]:
    """What in a container securityContext makes it privileged."""
    if not isinstance(security_context, Mapping):
        return []
    problems = []
    if security_context.get("privileged") is True:
        problems.append("securityContext.privileged: true")
    added = lookup(security_context, "capabilities", "add")
    if isinstance(added, Sequence) and not isinstance(added, str):
        for capability in added:
            if (
                isinstance(capability, str)
                and capability.upper().removeprefix("CAP_") in _PRIVILEGED_CAPABILITIES
            ):
                problems.append(f"securityContext.capabilities.add: {capability}")
    return problems


def _host_namespace_problems(pod_spec: Any) -> list[str]:
    if not isinstance(pod_spec, Mapping):
        return []
    return [f"{key}: true" for key in _HOST_NAMESPACES if pod_spec.get(key) is True]


@resource_rule(
    "k8s-no-privileged",
    "No container runs privileged (or with CAP_SYS_ADMIN / all capabilities added) and no "
    "pod shares the node's network, PID or IPC namespace.",
    "high",
    "Remove securityContext.privileged: true and SYS_ADMIN/ALL from "
    "securityContext.capabilities.add on every container, and hostNetwork, hostPID and "
    "hostIPC from the pod spec (for the Mattermost custom resource: "
    "spec.podTemplate.containerSecurityContext); a node agent that truly needs them gets "
    "a waiver.",
)
def no_privileged(resource: Resource, ctx: RuleContext) -> Outcome:
    # allowPrivilegeEscalation is deliberately not judged: it defaults to true whenever it
    # is unset, so flagging an explicit ``true`` would punish only the honest manifest. It
    # belongs to the Pod Security "restricted" level; the test namespaces enforce
    # "baseline", which forbids what this rule forbids and leaves escalation alone.
    if resource.type == MATTERMOST_TYPE:
        context = lookup(resource, "spec", "podTemplate", "containerSecurityContext")
        found = [
            f"Mattermost '{resource.name}' app container sets {problem} "
            "(spec.podTemplate.containerSecurityContext)"
            for problem in _privilege_problems(context)
        ]
        for container in _mattermost_extension_containers(resource):
            found.extend(
                f"Mattermost '{resource.name}' {container.label} ({container.where}) sets {problem}"
                for problem in _privilege_problems(container.spec.get("securityContext"))
            )
        return violations(found, resource.urn)
    workload = _workload(resource)
    if workload is None:
        return NOT_APPLICABLE
    what = _what(resource, workload.kind)
    found = [
        f"{what} pod spec sets {problem}" for problem in _host_namespace_problems(workload.pod_spec)
    ]
    for container in _containers(workload.pod_spec, _CONTAINER_LISTS):
        found.extend(
            f"{what} {container.label} sets {problem}"
            for problem in _privilege_problems(container.spec.get("securityContext"))
        )
    return violations(found, resource.urn)


def _digest_problem(digest: str) -> str | None:
    if _DIGEST.match(digest):
        return None
    return f"has a malformed digest {digest!r} (expected sha256:<64 hex digits>)"


def image_problem(image: str) -> str | None:
    """Why ``image`` is not pinned (no tag, ``latest``, bad digest), or None when it is.

    ``name@sha256:<hex>`` is pinned whatever tag precedes the digest; otherwise the tag is
    what follows the last ``:`` after the last ``/`` (so a registry port is not a tag).
    """
    if not image.strip():
        return "is empty"
    if "@" in image:
        return _digest_problem(image.rpartition("@")[2])
    last_segment = image.rpartition("/")[2]
    if ":" not in last_segment:
        return "has no tag (it means latest)"
    tag = last_segment.rpartition(":")[2]
    if not tag:
        return "has an empty tag"
    if tag.lower() == "latest":
        return "uses the mutable tag 'latest'"
    return None


def mattermost_version_problem(version: object) -> str | None:
    """Why a Mattermost resource's ``spec.version`` does not pin its image, or None.

    The operator runs ``image:version``, or ``image@version`` when the version is a
    ``sha256:`` digest."""
    if version is None or (isinstance(version, str) and not version.strip()):
        return "is empty (the operator would pick its own default version)"
    if not isinstance(version, str):
        return f"{version!r} is not a string"
    text = version.strip()
    if "sha256:" in text:
        return None if _DIGEST.match(text) else f"{version!r} is a malformed digest"
    if text.lower() == "latest":
        return "is the mutable tag 'latest'"
    return None


def _mattermost_image_problem(resource: Resource) -> str | None:
    image, version = lookup(resource, "spec", "image"), lookup(resource, "spec", "version")
    if is_unknown(image) or is_unknown(version):
        return None
    problem = mattermost_version_problem(version)
    if problem is None:
        return None
    shown = image if isinstance(image, str) and image else "<operator default image>"
    return f"Mattermost '{resource.name}' image {shown!r}: spec.version {problem}"


def _container_image_problem(label: str, container: _Container, *, patch: bool) -> str | None:
    image = container.spec.get("image")
    if is_unknown(image) or (patch and image is None):
        return None
    if not isinstance(image, str):
        return f"{label} {container.label} declares no image"
    problem = image_problem(image)
    return f"{label} {container.label} image {image!r} {problem}" if problem else None


@resource_rule(
    "k8s-image-pinned",
    "Every container image is pinned to a version tag other than 'latest' or to a digest, "
    "so what runs is what was reviewed.",
    "medium",
    "Set each container's image to name:<version> or name@sha256:<digest> (for the "
    "Mattermost custom resource: spec.version to a release such as 10.11.2 or a "
    "sha256: digest).",
)
def image_pinned(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type == MATTERMOST_TYPE:
        found = [problem] if (problem := _mattermost_image_problem(resource)) else []
        for container in _mattermost_extension_containers(resource):
            label = f"Mattermost '{resource.name}' ({container.where})"
            if problem := _container_image_problem(label, container, patch=False):
                found.append(problem)
        return violations(found, resource.urn)
    workload = _workload(resource)
    if workload is None:
        return NOT_APPLICABLE
    found = []
    for container in _containers(workload.pod_spec, _CONTAINER_LISTS):
        label = _what(resource, workload.kind)
        if problem := _container_image_problem(label, container, patch=workload.patch):
            found.append(problem)
    return violations(found, resource.urn)


def _protects(policy: Resource, namespace: Resource, name: Any) -> bool | None:
    """Whether ``policy`` sits in ``namespace``: True, False, or None when it cannot be
    told at preview time (the policy's namespace is unknown and nothing records where
    its ``metadata`` came from)."""
    if policy.depends_on(namespace.urn, "metadata"):
        return True
    policy_namespace = lookup(policy, "metadata", "namespace")
    if policy_namespace is None or policy_namespace == "":
        return False  # the provider's default namespace
    if isinstance(name, str) and name and isinstance(policy_namespace, str):
        return policy_namespace == name
    if is_unknown(policy_namespace) and not policy.property_dependencies.get("metadata"):
        return None
    # A literal namespace cannot be tied to a name not known yet, and a policy whose
    # metadata came from other resources is not this namespace's.
    return False


@stack_rule(
    "k8s-namespace-network-policy",
    "Every namespace the stack declares has at least one NetworkPolicy, so its pods are "
    "not open to the whole cluster.",
    "high",
    "Declare a kubernetes:networking.k8s.io/v1:NetworkPolicy with metadata.namespace set "
    "to the namespace's metadata.name (e.g. a default-deny ingress policy that admits the "
    "namespace itself).",
)
def namespace_network_policy(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    namespaces = [r for r in resources if r.type == NAMESPACE_TYPE]
    if not namespaces:
        return NOT_APPLICABLE
    policies = [r for r in resources if r.type == NETWORK_POLICY_TYPE]
    found: list[Violation] = []
    for namespace in namespaces:
        name = lookup(namespace, "metadata", "name")
        verdicts = [_protects(policy, namespace, name) for policy in policies]
        if any(verdict is not False for verdict in verdicts):
            continue  # protected, or cannot be told at preview time
        shown = (
            repr(name)
            if isinstance(name, str) and name
            else f"of resource {namespace.name!r} (name not known yet)"
        )
        found.append(
            Violation(
                f"namespace {shown} has no NetworkPolicy: declare one with "
                "metadata.namespace set to it",
                namespace.urn,
            )
        )
    return found


RULES: tuple[Rule, ...] = (
    container_resources,
    no_privileged,
    image_pinned,
    namespace_network_policy,
)
