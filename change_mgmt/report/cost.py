"""Monthly cost of every test environment (per team) and platform stack, and the share
of non-production in the total against the team's target.

Each stack is priced exactly as ``sre env render`` / ``sre stack render`` price it: its
real program runs under Pulumi mocks and ``policies/cost.py`` prices what it declares.
Production is the stacks the policy pack's tiers call ``production`` (``prod``);
everything else (``dev``, ``staging`` and every ``env-<name>``) is non-production.
Resources without a price are listed, never counted as 0, so each figure is a floor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from change_mgmt.environments.catalog import (
    REQUEST_SUFFIX,
    REQUESTS_DIR,
    EnvironmentState,
    request_files,
    state_of,
)
from change_mgmt.errors import SreError
from policies.config import CONFIG_FILE, PACK_DIR, PolicyConfig, load_config
from policies.cost import CostEstimate, PriceTable, default_price_table

SCHEMA = "sre-platform/cost-report/v1"
DEFAULT_TARGET_SHARE = 25.0
"""Non-production may be at most this percentage of the total (the team's target)."""


class InvalidTarget(SreError):
    """The target share is not a percentage in (0, 100]."""


@dataclass(frozen=True)
class StackCost:
    """One stack's estimated monthly cost; ``team`` and ``state`` are an environment's."""

    stack: str
    kind: str  # "environment" | "platform"
    tier: str
    monthly: float
    unpriced: tuple[tuple[str, str], ...]
    """(name, type) of each declared resource without a price."""
    source: str
    team: str | None = None
    state: EnvironmentState | None = None
    expires_at: datetime | None = None

    @property
    def production(self) -> bool:
        return self.tier == "production"

    @property
    def unpriced_types(self) -> list[str]:
        return [kind for _, kind in self.unpriced]


@dataclass(frozen=True)
class TeamCost:
    team: str
    environments: int
    monthly: float


@dataclass
class CostReport:
    table: PriceTable
    target_share: float
    stacks: list[StackCost] = field(default_factory=list)

    @property
    def environments(self) -> list[StackCost]:
        return [s for s in self.stacks if s.kind == "environment"]

    @property
    def platform(self) -> list[StackCost]:
        return [s for s in self.stacks if s.kind == "platform"]

    @property
    def teams(self) -> list[TeamCost]:
        """Per team, most expensive first (then by name)."""
        totals: dict[str, list[StackCost]] = {}
        for env in self.environments:
            totals.setdefault(env.team or "", []).append(env)
        teams = [
            TeamCost(team, len(envs), round(sum(e.monthly for e in envs), 2))
            for team, envs in totals.items()
        ]
        return sorted(teams, key=lambda t: (-t.monthly, t.team))

    @property
    def production(self) -> float:
        return round(sum(s.monthly for s in self.stacks if s.production), 2)

    @property
    def non_production(self) -> float:
        return round(sum(s.monthly for s in self.stacks if not s.production), 2)

    @property
    def total(self) -> float:
        return round(self.production + self.non_production, 2)

    @property
    def share(self) -> float | None:
        """Non-production as a percentage of the total (None when nothing costs)."""
        if self.total <= 0:
            return None
        return round(100.0 * self.non_production / self.total, 1)

    @property
    def within_target(self) -> bool:
        return self.share is None or self.share <= self.target_share


def check_target(percent: float) -> float:
    if not 0 < percent <= 100:
        raise InvalidTarget(f"--target-share: {percent:g} is not a percentage in (0, 100]")
    return percent


def _unpriced(cost: CostEstimate) -> tuple[tuple[str, str], ...]:
    return tuple((r.name, r.type) for r in cost.unpriced)


def build_cost_report(
    project_dir: Path,
    now: datetime,
    *,
    target_share: float = DEFAULT_TARGET_SHARE,
    platform_stacks: Sequence[str] | None = None,
    progress: Callable[[str], None] = lambda stack: None,
) -> CostReport:
    """Render and price every request in ``stacks/environments/`` and every platform
    stack with a ``Pulumi.<stack>.yaml``. A request or stack that cannot be rendered
    raises (a report that left it out would understate the cost)."""
    from change_mgmt.environments.render import render_environment, render_platform_stack
    from stacks.platform_stack_config import PLATFORM_STACKS

    check_target(target_share)
    policy = load_config(
        project_dir / PACK_DIR / CONFIG_FILE, shown_path=f"{PACK_DIR}/{CONFIG_FILE}"
    )
    report = CostReport(table=default_price_table(), target_share=target_share)
    for path in request_files(project_dir / REQUESTS_DIR):
        progress(f"env-{path.stem}")
        env = render_environment(project_dir, path.stem)
        report.stacks.append(
            StackCost(
                stack=env.stack,
                kind="environment",
                tier=_tier(policy, env.stack),
                monthly=env.cost.monthly_total,
                unpriced=_unpriced(env.cost),
                source=f"{REQUESTS_DIR}/{path.stem}{REQUEST_SUFFIX}",
                team=env.request.team,
                state=state_of(env.request, now),
                expires_at=env.request.expires_at,
            )
        )
    stacks = PLATFORM_STACKS if platform_stacks is None else platform_stacks
    for stack in stacks:
        if not (project_dir / f"Pulumi.{stack}.yaml").is_file():
            continue
        progress(stack)
        rendered = render_platform_stack(project_dir, stack)
        report.stacks.append(
            StackCost(
                stack=rendered.stack,
                kind="platform",
                tier=_tier(policy, rendered.stack),
                monthly=rendered.cost.monthly_total,
                unpriced=_unpriced(rendered.cost),
                source=rendered.source,
            )
        )
    return report


def _tier(policy: PolicyConfig, stack: str) -> str:
    return policy.tier_of(stack)
