"""Argo CD's RBAC (``argocd-rbac-cm``) from typed group bindings: read-only by default.

Every authenticated user gets ``role:readonly`` (``policy.default``); SSO groups get more
only through a binding to a built-in role or to a custom role declared in the args.
"""

from __future__ import annotations

import re

from components.gitops.args import GitOpsPlatformArgs, GitOpsPlatformError

BUILT_IN_ROLES = frozenset({"admin", "readonly"})
DEFAULT_ROLE = "role:readonly"
# Argo CD's RBAC resources and actions (docs: operator-manual/rbac).
RESOURCES = frozenset(
    {
        "applications",
        "applicationsets",
        "clusters",
        "projects",
        "repositories",
        "accounts",
        "certificates",
        "gpgkeys",
        "logs",
        "exec",
        "extensions",
    }
)
ACTIONS = frozenset({"get", "create", "update", "delete", "sync", "override", "invoke", "*"})
_ROLE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# One CSV field: Casbin splits on commas, so none may hold one (or a line break).
_FIELD = re.compile(r"^[^,\n\r]+$")


def validate_rbac(args: GitOpsPlatformArgs) -> None:
    """Raise ``GitOpsPlatformError`` for an unknown role, resource or action."""
    custom: set[str] = set()
    for index, role in enumerate(args.roles):
        where = f"roles[{index}]"
        if not _ROLE_NAME.match(role.name) or role.name in BUILT_IN_ROLES or role.name in custom:
            raise GitOpsPlatformError(
                f"{where}.name", role.name, "must be a new lower-case name (not admin/readonly)"
            )
        custom.add(role.name)
        if not role.permissions:
            raise GitOpsPlatformError(f"{where}.permissions", (), "must grant something")
        for number, permission in enumerate(role.permissions):
            field = f"{where}.permissions[{number}]"
            if permission.resource not in RESOURCES:
                raise GitOpsPlatformError(
                    f"{field}.resource", permission.resource, f"must be one of {sorted(RESOURCES)}"
                )
            if permission.action not in ACTIONS and not permission.action.startswith("action/"):
                raise GitOpsPlatformError(
                    f"{field}.action",
                    permission.action,
                    f"must be one of {sorted(ACTIONS)} or action/<group>/<kind>/<action>",
                )
            if not _FIELD.match(permission.object.strip()):
                raise GitOpsPlatformError(
                    f"{field}.object", permission.object, "must be a pattern without commas"
                )
    known = BUILT_IN_ROLES | custom
    for index, binding in enumerate(args.group_bindings):
        if binding.role not in known:
            raise GitOpsPlatformError(
                f"group_bindings[{index}].role", binding.role, f"must be one of {sorted(known)}"
            )
        if not _FIELD.match(binding.group.strip()):
            raise GitOpsPlatformError(
                f"group_bindings[{index}].group", binding.group, "must be a group without commas"
            )


def policy_csv(args: GitOpsPlatformArgs) -> str:
    """The ``policy.csv`` of ``argocd-rbac-cm``: custom roles' ``p`` lines, then ``g`` lines."""
    lines = [
        f"p, role:{role.name}, {p.resource}, {p.action}, {p.object.strip()}, {p.effect}"
        for role in args.roles
        for p in role.permissions
    ]
    lines += [f"g, {b.group.strip()}, role:{b.role}" for b in args.group_bindings]
    return "".join(f"{line}\n" for line in lines)
