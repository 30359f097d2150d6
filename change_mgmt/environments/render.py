"""Evaluate a real stack program under Pulumi mocks: ``env-<name>`` or a platform stack.

What ``sre env render``, ``sre stack render`` and the pull-request check show: the
resources the program declares (not a ``pulumi preview``: no cloud is asked what
exists), what they cost, and what the policy pack's rules find in them. Config comes
from the project's ``Pulumi.yaml`` defaults and, when present, the stack's
``Pulumi.<stack>.yaml``, exactly as ``pulumi up`` would merge them. Secrets are never
read: each secret key gets a render placeholder, marked secret as the engine marks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.config import CONFIG

from change_mgmt.environments.catalog import REQUESTS_DIR, load_request
from change_mgmt.environments.request import EnvironmentRequest
from change_mgmt.errors import SreError
from policies.config import PACK_DIR
from policies.cost import CostEstimate, estimate_monthly_cost
from policies.evaluate import PackSettings, PolicyReport, evaluate, load_settings
from stacks.mock_engine import DeclaredResource, MockRun, run_under_mocks
from stacks.platform_config import PROJECT, StackConfigError
from stacks.platform_stack_config import PLATFORM_STACKS
from stacks.program import run_stack
from stacks.test_environment import STACK_PREFIX, PolicyRefusedError

# Stand-ins for secret config a real stack holds encrypted; render never sees real secrets.
# The webhook stand-ins are https URLs (the routing settings refuse anything else) on the
# reserved .invalid domain, so nothing could ever deliver to them.
RENDER_SECRET_PLACEHOLDERS = {
    f"{PROJECT}:sharedDbAdminPassword": "render-placeholder",
    f"{PROJECT}:grafanaAdminPassword": "render-placeholder",
    f"{PROJECT}:alertOnCallWebhookUrl": "https://oncall.render-placeholder.invalid/hook",
    f"{PROJECT}:alertSreChannelWebhookUrl": "https://chat.render-placeholder.invalid/hooks/sre",
    f"{PROJECT}:alertLowNoiseWebhookUrl": "https://chat.render-placeholder.invalid/hooks/low",
    f"{PROJECT}:argocdOidcClientSecret": "render-placeholder",
}


class RenderError(SreError):
    """The environment cannot be rendered (unknown name, bad config, program error)."""


class InvalidStack(RenderError):
    """Not a stack this project defines, or its configuration is invalid (bad input)."""


class PolicyRefused(RenderError):
    """The program refused its input because it breaks policy rule ``rule_id``."""

    def __init__(self, message: str, rule_id: str, finding: str) -> None:
        self.rule_id = rule_id
        self.finding = finding
        super().__init__(message)


@dataclass(frozen=True)
class RenderedStack:
    """What one stack program declares, costs and breaks; ``source`` defines the stack."""

    stack: str
    source: str
    resources: list[DeclaredResource]
    exports: dict[str, Any]
    cost: CostEstimate
    policy: PolicyReport


@dataclass(frozen=True)
class RenderedEnvironment(RenderedStack):
    request: EnvironmentRequest


def project_config(project_dir: Path, stack: str) -> dict[str, Any]:
    """Fully qualified config for ``stack``: Pulumi.yaml defaults, then the stack file."""
    project_file = project_dir / "Pulumi.yaml"
    try:
        project = yaml.safe_load(project_file.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RenderError(f"cannot read {project_file}: {exc}") from None
    config: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(spec, dict):
            if "value" in spec:
                config[full_key] = spec["value"]
            elif "default" in spec:
                config[full_key] = spec["default"]
        else:
            config[full_key] = spec
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if stack_file.is_file():
        try:
            stack_settings = yaml.safe_load(stack_file.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RenderError(f"cannot read {stack_file}: {exc}") from None
        for key, value in (stack_settings.get("config") or {}).items():
            if isinstance(value, dict) and "secure" in value:
                continue  # encrypted: render uses a placeholder, never the secret
            config[key if ":" in key else f"{PROJECT}:{key}"] = value
    for key, placeholder in RENDER_SECRET_PLACEHOLDERS.items():
        config.setdefault(key, placeholder)
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()
    }


def with_secret_keys(program: Callable[[], None], secret_keys: Sequence[str]) -> Callable[[], None]:
    """``program``, run with ``secret_keys`` marked secret in the config it reads (as the
    engine marks ``secure:`` keys), so stacks that refuse plain secrets accept them."""

    def marked() -> None:
        current = dict(CONFIG.get())
        pulumi.runtime.set_all_config(current, secret_keys=list(secret_keys))
        program()

    return marked


def declared_resources(
    project_dir: Path,
    stack: str,
    *,
    config: dict[str, Any] | None = None,
    secret_keys: Sequence[str] = tuple(RENDER_SECRET_PLACEHOLDERS),
) -> MockRun:
    """Run the project's stack program for ``stack`` under mocks (by default with the
    project's config for it and the render placeholders as its secrets)."""
    try:
        return run_under_mocks(
            with_secret_keys(lambda: run_stack(project_dir), secret_keys),
            project=PROJECT,
            stack=stack,
            config=project_config(project_dir, stack) if config is None else config,
            preview=True,
        )
    except PolicyRefusedError as exc:
        raise PolicyRefused(str(exc), exc.rule_id, exc.finding) from None
    except StackConfigError as exc:
        raise InvalidStack(str(exc)) from None
    except pulumi.RunError as exc:
        raise RenderError(str(exc)) from None


def _in_tree_order(resources: list[DeclaredResource]) -> list[DeclaredResource]:
    """Stable display order (registration order is not): shallow first, then type, name."""
    parent_of = {r.urn: r.parent for r in resources}

    def depth(resource: DeclaredResource) -> int:
        level, parent = 0, resource.parent
        while parent in parent_of:
            level, parent = level + 1, parent_of[parent]
        return level

    return sorted(resources, key=lambda r: (depth(r), r.type, r.name))


def render_environment(project_dir: Path, name: str) -> RenderedEnvironment:
    path = project_dir / REQUESTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise RenderError(f"no request named {name!r}: {path} does not exist (see `sre env list`)")
    settings = load_settings(project_dir / PACK_DIR, shown_dir=PACK_DIR)
    # An invalid request raises DocumentError: its problems, one line each, exit 2.
    shown = str(REQUESTS_DIR / path.name)
    request = load_request(path, shown_path=shown, policy=settings.config).request
    stack = f"{STACK_PREFIX}{name}"
    run = declared_resources(project_dir, stack)
    return RenderedEnvironment(**vars(_rendered_fields(run, shown, settings)), request=request)


def render_platform_stack(project_dir: Path, stack: str) -> RenderedStack:
    """``dev``, ``staging`` or ``prod``, from its ``Pulumi.<stack>.yaml``."""
    stack_file = f"Pulumi.{stack}.yaml"
    if stack not in PLATFORM_STACKS:
        raise InvalidStack(
            f"{stack!r} is not a platform stack (one of {', '.join(PLATFORM_STACKS)}); "
            "test environments render with `sre env render NAME`"
        )
    if not (project_dir / stack_file).is_file():
        raise InvalidStack(f"no stack file {stack_file} for platform stack {stack!r}")
    settings = load_settings(project_dir / PACK_DIR, shown_dir=PACK_DIR)
    return _rendered_fields(declared_resources(project_dir, stack), stack_file, settings)


def _rendered_fields(run: MockRun, source: str, settings: PackSettings) -> RenderedStack:
    return RenderedStack(
        stack=run.stack,
        source=source,
        resources=_in_tree_order(run.resources),
        exports=run.exports,
        cost=estimate_monthly_cost(run.resources),
        policy=check_declared(run, settings),
    )


def check_declared(run: MockRun, settings: PackSettings) -> PolicyReport:
    """The policy pack's rules over a mock run, as ``pulumi preview --policy-pack`` would."""
    return evaluate(
        run.resources, stack=run.stack, config=settings.config, waivers=settings.waivers
    )
