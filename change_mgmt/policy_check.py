"""``sre policy check``: the policy pack's rules over every stack program of the project.

Each stack is evaluated as ``sre env render`` evaluates one: its program runs under
Pulumi mocks with the project's config, and :func:`policies.evaluate.evaluate` runs
every rule over what it declares, with the pack's settings and waivers. No cloud
account, no Pulumi CLI: a request that breaks a rule is caught in the pull request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from change_mgmt.environments.catalog import REQUESTS_DIR, request_files
from change_mgmt.environments.render import (
    PolicyRefused,
    RenderError,
    check_declared,
    declared_resources,
)
from policies.config import PACK_DIR
from policies.evaluate import Finding, PackSettings, PolicyReport, load_settings
from policies.rules.registry import ALL_RULES
from stacks.test_environment import STACK_PREFIX


@dataclass(frozen=True)
class StackCheck:
    """One stack's result: its findings, or why it could not be evaluated."""

    stack: str
    source: str
    report: PolicyReport | None = None
    error: str | None = None


def project_stacks(project_dir: Path) -> list[tuple[str, str]]:
    """(stack, the file that defines it) for every stack of the project: each
    environment request, and each ``Pulumi.<stack>.yaml`` stack file."""
    found: dict[str, str] = {}
    for path in request_files(project_dir / REQUESTS_DIR):
        found[f"{STACK_PREFIX}{path.stem}"] = str(REQUESTS_DIR / path.name)
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        found.setdefault(stack, path.name)
    return sorted(found.items())


def source_of(project_dir: Path, stack: str) -> str:
    """The file that defines ``stack`` (for messages), or ``stack`` when none does."""
    return dict(project_stacks(project_dir)).get(stack, stack)


def check_stacks(
    project_dir: Path,
    stacks: Sequence[tuple[str, str]],
    *,
    settings: PackSettings | None = None,
    progress: Callable[[str], None] = lambda stack: None,
) -> list[StackCheck]:
    """Evaluate each stack; one that cannot be evaluated is reported, not raised, so
    ``--all`` shows every problem at once."""
    pack = settings or load_settings(project_dir / PACK_DIR, shown_dir=PACK_DIR)
    results: list[StackCheck] = []
    for stack, source in stacks:
        progress(stack)
        try:
            run = declared_resources(project_dir, stack)
        except PolicyRefused as exc:
            report = refusal_report(stack, source, exc, pack)
            results.append(StackCheck(stack, source, report=report))
            continue
        except RenderError as exc:
            results.append(StackCheck(stack, source, error=str(exc)))
            continue
        results.append(StackCheck(stack, source, report=check_declared(run, pack)))
    return results


def refusal_report(
    stack: str, source: str, refusal: PolicyRefused, settings: PackSettings
) -> PolicyReport:
    """A component that refuses its input at construction (with the rule's message) has
    declared nothing to evaluate: its refusal is that rule's finding."""
    rule = next(rule for rule in ALL_RULES if rule.id == refusal.rule_id)
    tier = settings.config.tier_of(stack)
    finding = Finding(
        rule=rule,
        enforcement="mandatory",
        message=f"{source}: {refusal.finding}",
        urn=None,
        resource_type=None,
        resource_name=None,
    )
    return PolicyReport(stack=stack, tier=tier, findings=(finding,), rules_run=1)
