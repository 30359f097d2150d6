"""Which platform stacks (dev, staging, prod) a change since a git ref touches.

For the platform-change workflow's matrix (one ``pulumi preview`` and gate per stack)
and the deploy workflow's (one ``sre up`` per stack). Conservative by design: a
preview too many costs a minute, a stack left out would be deployed ungated by the next
run that does include it. So:

- ``Pulumi.<stack>.yaml`` and ``gitops/<kind>/<stack>.yaml`` touch that stack only;
- shared code and data (components/, stacks/, policies/, change_mgmt/, slos/,
  dashboards/, gitops/ otherwise, Pulumi.yaml, __main__.py, the risk policy,
  approvers, packaging) touch all three;
- paths known to declare nothing (docs, tests, examples, environment requests, CI
  workflows, Markdown) touch none;
- any other path is *unclassified* and touches all three (fail closed): a new
  top-level file the program may read is previewed until someone classifies it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from change_mgmt.environments.catalog import REQUESTS_DIR
from change_mgmt.environments.changes import changed_paths
from stacks.platform_config import PROJECT
from stacks.platform_stack_config import PLATFORM_STACKS

SCHEMA = "sre-platform/stack-affected/v1"

# Prefixes (folders end in "/") and exact paths that every platform stack is built from.
SHARED = (
    "components/",
    "stacks/",
    "policies/",
    "change_mgmt/",
    "slos/",
    "dashboards/",
    "gitops/",
    "Pulumi.yaml",
    "__main__.py",
    "risk-policy.yaml",
    "approvers.yaml",
    "pyproject.toml",
    "constraints.txt",
)
# Prefixes and exact paths that declare nothing in a platform stack.
NO_EFFECT = (
    f"{REQUESTS_DIR.as_posix()}/",
    "docs/",
    "tests/",
    "benchmarks/",
    "examples/",
    "scripts/",
    ".github/",
    ".ci/",
    ".gitignore",
)
DEPLOY_ENVIRONMENT_KEY = f"{PROJECT}:githubDeployEnvironment"
# When a stack file does not name its GitHub environment (older stack files).
DEFAULT_DEPLOY_ENVIRONMENTS = {"prod": "production"}


@dataclass(frozen=True)
class AffectedStack:
    """One platform stack the change touches, with the paths that touch it and what the
    workflows need to run it (its GitHub environment, its role, ledger and archive variables)."""

    stack: str
    paths: tuple[str, ...]
    github_environment: str

    def as_dict(self) -> dict[str, Any]:
        suffix = self.stack.upper()
        return {
            "stack": self.stack,
            "github_environment": self.github_environment,
            "previewer_role_variable": f"AWS_PREVIEWER_ROLE_ARN_{suffix}",
            "deployer_role_variable": f"AWS_DEPLOYER_ROLE_ARN_{suffix}",
            # The stack's exports ledgerUrl and evidenceUrl (ChangeStorage), kept as
            # repository variables: one shared ledger and archive per platform account.
            "ledger_url_variable": f"SRE_LEDGER_URL_{suffix}",
            "evidence_url_variable": f"SRE_EVIDENCE_URL_{suffix}",
            "paths": list(self.paths),
        }


@dataclass(frozen=True)
class AffectedStacks:
    since: str
    base: str
    stacks: tuple[AffectedStack, ...]
    unclassified: tuple[str, ...]
    """Paths no rule knows: they touch every stack (fail closed)."""
    ignored: tuple[str, ...]
    """Paths known to declare nothing in a platform stack."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "since": self.since,
            "base": self.base,
            "stacks": [s.stack for s in self.stacks],
            "targets": [s.as_dict() for s in self.stacks],
            "unclassified": list(self.unclassified),
            "ignored": list(self.ignored),
        }


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(path.startswith(p) if p.endswith("/") else path == p for p in patterns)


def stacks_of_path(path: str) -> tuple[frozenset[str], str]:
    """The stacks ``path`` touches and why: ``stack``, ``shared``, ``none`` or
    ``unclassified``. The stack-specific files are checked first."""
    for stack in PLATFORM_STACKS:
        if path == f"Pulumi.{stack}.yaml":
            return frozenset({stack}), "stack"
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "gitops" and parts[2] == f"{stack}.yaml":
            return frozenset({stack}), "stack"
    every = frozenset(PLATFORM_STACKS)
    if _matches(path, NO_EFFECT):
        return frozenset(), "none"
    if _matches(path, SHARED):
        return every, "shared"
    if "/" not in path and path.endswith(".md"):
        return frozenset(), "none"
    return every, "unclassified"


def deploy_environment(project_dir: Path, stack: str) -> str:
    """The GitHub environment a stack deploys in: its stack file's
    ``sre-platform:githubDeployEnvironment`` (the deployer role trusts exactly that)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        document = None
    config = document.get("config") if isinstance(document, dict) else None
    named = config.get(DEPLOY_ENVIRONMENT_KEY) if isinstance(config, dict) else None
    if isinstance(named, str) and named:
        return named
    return DEFAULT_DEPLOY_ENVIRONMENTS.get(stack, stack)


def affected_stacks(project_dir: Path, since: str) -> AffectedStacks:
    """The platform stacks the change since ``since`` (merge base to working tree) touches."""
    base, paths = changed_paths(project_dir, since)
    touching: dict[str, list[str]] = {stack: [] for stack in PLATFORM_STACKS}
    unclassified: list[str] = []
    ignored: list[str] = []
    for path in paths:
        stacks, why = stacks_of_path(path)
        if why == "unclassified":
            unclassified.append(path)
        elif why == "none":
            ignored.append(path)
        for stack in stacks:
            touching[stack].append(path)
    affected = tuple(
        AffectedStack(stack, tuple(found), deploy_environment(project_dir, stack))
        for stack, found in touching.items()
        if found
    )
    return AffectedStacks(since, base, affected, tuple(unclassified), tuple(ignored))
