"""Score a ChangeSet under a RiskPolicy, explaining every point.

The score is the sum of the factors' points (at most 100). A factor is one reason the
change is risky: the riskiest step, the size of the change, its blast radius, and each
rule that fired. A rule may also raise the level to a minimum, block the change
outright, or close the gate unless the change is an emergency.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from change_mgmt.preview import KNOWN_OPS, ChangeSet, ResourceChange
from change_mgmt.risk.calendar import FreezeCalendar
from change_mgmt.risk.error_budget import BudgetReading, ErrorBudgetSource
from change_mgmt.risk.gitops import (
    TargetChange,
    chart_major_changes,
    mutable_revisions,
    prune_switched_on,
    removed_targets,
    unknown_inputs,
    widened_targets,
)
from change_mgmt.risk.gitops_targets import ClusterInventory
from change_mgmt.risk.policy import LEVELS, Effect, Level, ResourceClass, RiskPolicy
from change_mgmt.risk.rules import iam_wildcards, opened_ingress, version_replace_reasons

ChangeType = str  # standard | normal | emergency

COMPONENT_CLASS = ResourceClass(description="component", weight=0, types=["*"])
# Ops that remove or rebuild what exists: what the data-loss rules look at.
DESTRUCTIVE_OPS = frozenset({"delete", "replace"})
# Ops after which resources that depend on the changed one may be affected.
NON_PROPAGATING_OPS = frozenset({"same", "create", "read"})


@dataclass(frozen=True, slots=True)
class Evidence:
    urn: str
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Factor:
    """One reason for the score: which rule, how many points, and what it saw."""

    rule: str
    points: int
    explanation: str
    evidence: tuple[Evidence, ...] = ()
    min_level: Level | None = None
    effect: Effect = "none"


@dataclass(frozen=True, slots=True)
class StepRisk:
    """How risky one resource's step is on its own: op weight × class weight × tier."""

    urn: str
    op: str
    class_name: str
    resource_class: ResourceClass
    op_weight: float
    points: float
    unknown_op: bool
    unknown_class: bool

    @property
    def stateful(self) -> bool:
        return self.resource_class.stateful

    @property
    def destructive(self) -> bool:
        return self.op in DESTRUCTIVE_OPS or self.unknown_op


@dataclass(frozen=True)
class AssessmentContext:
    """What besides the preview the assessment depends on; the clock is passed in."""

    now: datetime
    emergency: bool = False
    emergency_reason: str | None = None
    budgets: ErrorBudgetSource | None = None
    freezes: FreezeCalendar | None = None
    clusters: ClusterInventory | None = None
    """The clusters registered with Argo CD for the stack's environment: with it the
    GitOps rules count the clusters an app gains or loses; without, they say unknown."""


@dataclass(frozen=True)
class RiskAssessment:
    stack: str
    tier: str
    score: int
    level: Level
    change_type: ChangeType
    required_approvals: int
    required_groups: tuple[str, ...]
    factors: tuple[Factor, ...]
    steps: tuple[StepRisk, ...] = ()
    notes: tuple[str, ...] = ()
    budgets: tuple[BudgetReading, ...] = field(default=())

    @property
    def blockers(self) -> tuple[Factor, ...]:
        return tuple(f for f in self.factors if f.effect == "block")

    @property
    def closers(self) -> tuple[Factor, ...]:
        """Factors that close the gate unless the change is an emergency."""
        return tuple(f for f in self.factors if f.effect == "close-unless-emergency")


# -- steps -------------------------------------------------------------------------------


def _step_risk(change: ResourceChange, policy: RiskPolicy, multiplier: float) -> StepRisk:
    unknown_op = bool(change.unknown_ops)
    op_weight = (
        policy.riskiest_op_weight
        if unknown_op
        else policy.op_weights.get(change.op, policy.riskiest_op_weight)
    )
    unknown_op = unknown_op or change.op not in policy.op_weights
    if not change.custom:
        name, cls, unknown_class = "component", COMPONENT_CLASS, False
    elif (found := policy.classify(change.type)) is not None:
        (name, cls), unknown_class = found, False
    else:
        (name, cls), unknown_class = policy.riskiest_class, True
    return StepRisk(
        urn=change.urn,
        op=change.op,
        class_name=name,
        resource_class=cls,
        op_weight=op_weight,
        points=op_weight * cls.weight * multiplier,
        unknown_op=unknown_op,
        unknown_class=unknown_class,
    )


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _listing(urns: Sequence[str], limit: int = 3) -> str:
    names = [_name(u) for u in urns[:limit]]
    more = f" and {len(urns) - limit} more" if len(urns) > limit else ""
    return ", ".join(names) + more


_VERB = {"delete": "Deleting", "replace": "Replacing", "update": "Updating", "create": "Creating"}


def _riskiest_step(
    steps: Sequence[StepRisk], changes: dict[str, ResourceChange], tier: str, multiplier: float
) -> Factor | None:
    if not steps:
        return None
    top = max(steps, key=lambda s: s.points)
    change = changes[top.urn]
    verb = _VERB.get(top.op, f"Running {top.op!r} on")
    return Factor(
        rule="riskiest-step",
        points=round(top.points),
        explanation=(
            f"{verb} {top.resource_class.description} resource {change.name} ({change.type}) "
            f"is the riskiest step: op weight {top.op_weight:g} × class weight "
            f"{top.resource_class.weight:g} × {tier} factor {multiplier:g}."
        ),
        evidence=(Evidence(top.urn, change.changed_paths),),
    )


def _change_size(steps: Sequence[StepRisk], policy: RiskPolicy, multiplier: float) -> Factor | None:
    count = sum(1 for s in steps if s.resource_class.weight > 0)
    if count < 2:
        return None
    raw = policy.change_size.points_per_doubling * math.log2(count) * multiplier
    points = round(min(policy.change_size.max_points, raw))
    return Factor(
        rule="change-size",
        points=points,
        explanation=(
            f"{count} resources change; size adds {policy.change_size.points_per_doubling:g} "
            f"points per doubling (at most {policy.change_size.max_points:g})."
        ),
    )


def _blast_radius(changeset: ChangeSet, policy: RiskPolicy, multiplier: float) -> Factor | None:
    changes = changeset.by_urn()
    settings = policy.blast_radius
    if settings.points_per_dependent <= 0:
        return None
    dependents: dict[str, dict[str, None]] = defaultdict(dict)  # an ordered set per upstream
    for change in changeset.changes:
        for upstream in (*change.dependencies, *((change.parent,) if change.parent else ())):
            dependents[upstream][change.urn] = None
    enough = math.ceil(settings.max_points / settings.points_per_dependent)
    best: tuple[int, str] | None = None
    for change in changeset.changes:
        if change.op in NON_PROPAGATING_OPS or change.urn not in dependents:
            continue
        count = _count_dependents(change.urn, dependents, stop_at=enough + 1)
        if count and (best is None or count > best[0]):
            best = (count, change.urn)
    if best is None:
        return None
    count, urn = best
    shown = f"at least {count}" if count > enough else str(count)
    points = round(min(settings.max_points, settings.points_per_dependent * count * multiplier))
    return Factor(
        rule="blast-radius",
        points=points,
        explanation=(
            f"{shown} other resource{'s' if count > 1 else ''} in this stack depend"
            f"{'' if count > 1 else 's'} on {_name(urn)} ({changes[urn].type}) "
            f"({settings.points_per_dependent:g} points each, at most {settings.max_points:g})."
        ),
        evidence=(Evidence(urn),),
    )


def _count_dependents(urn: str, dependents: dict[str, dict[str, None]], stop_at: int) -> int:
    """Resources downstream of ``urn``, walked breadth-first until more than ``stop_at``.

    The node whose dependents take the walk past ``stop_at`` still counts all of them,
    but they are counted, not visited: the work stays bounded by ``stop_at`` even when
    many changed resources lead to a node with thousands of dependents.
    """
    seen = {urn}
    queue = deque([urn])
    while queue and len(seen) <= stop_at:
        children = dependents.get(queue.popleft(), {})
        unseen = len(children) - sum(1 for known in seen if known in children)
        if len(seen) + unseen > stop_at:
            return len(seen) + unseen - 1
        for child in children:
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return len(seen) - 1


# -- rules -------------------------------------------------------------------------------


@dataclass
class _Rules:
    policy: RiskPolicy
    tier: str
    factors: list[Factor] = field(default_factory=list)

    def add(
        self,
        rule_id: str,
        explanation: str,
        evidence: Iterable[Evidence] = (),
        *,
        clusters: int | None = 1,
    ) -> None:
        """``clusters``: how many clusters the change reaches (None: unknown), for the
        rules that score per cluster."""
        settings = self.policy.rule(rule_id)
        if not settings.applies_to(self.tier):
            return
        self.factors.append(
            Factor(
                rule=rule_id,
                points=round(settings.cluster_points(clusters)),
                explanation=explanation,
                evidence=tuple(evidence),
                min_level=settings.min_level,
                effect=settings.effect,
            )
        )


def _per_change(
    rules: _Rules,
    rule_id: str,
    changes: Iterable[ResourceChange],
    detect: Callable[[ResourceChange], list[str]],
    explain: Callable[[str], str],
) -> None:
    """Run ``detect`` on each change; one factor naming every resource where it fired."""
    evidence = [Evidence(c.urn, tuple(paths)) for c in changes if (paths := detect(c))]
    if evidence:
        rules.add(rule_id, explain(_listing([e.urn for e in evidence])), evidence)


def _resource_rules(rules: _Rules, changeset: ChangeSet, steps: Sequence[StepRisk]) -> None:
    changes = changeset.by_urn()
    destructive_stateful = [s.urn for s in steps if s.destructive and s.stateful]
    if destructive_stateful:
        rules.add(
            "stateful-delete-in-production",
            f"Deletes or replaces {len(destructive_stateful)} stateful resource(s) in "
            f"{rules.tier}: {_listing(destructive_stateful)}; their data does not come back.",
            (Evidence(u) for u in destructive_stateful),
        )
    protected = [s.urn for s in steps if s.destructive and changes[s.urn].protect]
    if protected:
        rules.add(
            "protected-delete",
            f"Deletes or replaces protected resource(s) {_listing(protected)}: remove "
            "`protect` in a separate, reviewed change first.",
            (Evidence(u) for u in protected),
        )
    unknown_ops = [s.urn for s in steps if s.unknown_op]
    if unknown_ops:
        ops = sorted(
            {op for u in unknown_ops for op in changes[u].ops if op not in KNOWN_OPS}
            or {changes[u].op for u in unknown_ops}
        )
        rules.add(
            "unknown-op",
            f"Op(s) {', '.join(ops)} on {_listing(unknown_ops)} are unknown to this tool and "
            "are scored as the riskiest op.",
            (Evidence(u) for u in unknown_ops),
        )
    unknown_classes = [s.urn for s in steps if s.unknown_class]
    if unknown_classes:
        types = sorted({changes[u].type for u in unknown_classes})
        rules.add(
            "unknown-resource-class",
            f"Type(s) {', '.join(types[:3])}{' and more' if len(types) > 3 else ''} are in no "
            "resource class of the risk policy and are scored as the riskiest class.",
            (Evidence(u) for u in unknown_classes),
        )
    actual = changeset.actual_changes
    _per_change(
        rules,
        "open-ingress",
        actual,
        opened_ingress,
        lambda names: f"Opens ingress to the whole internet (0.0.0.0/0 or ::/0) on {names}.",
    )
    _per_change(
        rules,
        "iam-wildcard",
        actual,
        iam_wildcards,
        lambda names: f"Widens IAM access to `*` in {names}.",
    )
    _per_change(
        rules,
        "major-version-replace",
        actual,
        version_replace_reasons,
        lambda names: (
            f"Replaces {names} because of an engine or "
            "major-version change: plan the data migration and the rollback."
        ),
    )


def _cluster_rule(
    rules: _Rules,
    rule_id: str,
    changes: Iterable[ResourceChange],
    detect: Callable[[ResourceChange], TargetChange | None],
    verb: str,
) -> None:
    """One factor for every app whose clusters ``detect`` sees change, with their number."""
    found = [(c.urn, t) for c in changes if (t := detect(c)) is not None]
    if not found:
        return
    counts = [t.clusters for _, t in found]
    clusters: int | None
    if any(c is None for c in counts):
        clusters = None
        how_many = (
            "how many is unknown (no cluster inventory, or a target the preview cannot resolve)"
        )
    else:
        names = sorted({name for c in counts if c for name in c})
        clusters = len(names)
        how_many = f"{len(names)} registered cluster(s): {', '.join(names[:5])}" + (
            " and more" if len(names) > 5 else ""
        )
    rules.add(
        rule_id,
        f"{_listing([u for u, _ in found])} {verb} {how_many}.",
        (Evidence(urn, target.paths) for urn, target in found),
        clusters=clusters,
    )


def _gitops_rules(
    rules: _Rules, changes: Sequence[ResourceChange], inventory: ClusterInventory | None
) -> None:
    _cluster_rule(
        rules,
        "gitops-targets-widened",
        changes,
        lambda c: widened_targets(c, inventory),
        "may now go to more clusters;",
    )
    _cluster_rule(
        rules,
        "gitops-removed-from-clusters",
        changes,
        lambda c: removed_targets(c, inventory),
        f"stop(s) going to {rules.tier} clusters, where Argo CD then deletes it;",
    )
    _per_change(
        rules,
        "gitops-mutable-revision",
        changes,
        mutable_revisions,
        lambda names: (
            f"{names} now follow(s) a ref that can move (not an exact version or commit)."
        ),
    )
    _per_change(
        rules,
        "gitops-chart-major-change",
        changes,
        chart_major_changes,
        lambda names: (
            f"{names} change(s) Helm chart major version: read the chart's upgrade notes."
        ),
    )
    _per_change(
        rules,
        "gitops-prune-enabled",
        changes,
        prune_switched_on,
        lambda names: (
            f"Switches on automated prune for {names}: Argo CD deletes whatever leaves git."
        ),
    )
    _per_change(
        rules,
        "gitops-unknown-input",
        changes,
        unknown_inputs,
        lambda names: (
            f"Inputs of {names} are unknown until apply, so what the change does to its "
            "clusters, revision or sync policy cannot be read from the preview."
        ),
    )


def _preview_rules(rules: _Rules, changeset: ChangeSet) -> None:
    mandatory = [v for v in changeset.policy_violations if v.enforcement == "mandatory"]
    advisory = [v for v in changeset.policy_violations if v.enforcement != "mandatory"]
    for rule_id, found in (
        ("mandatory-policy-violation", mandatory),
        ("advisory-policy-violation", advisory),
    ):
        if found:
            names = sorted({f"{v.pack}/{v.policy}" for v in found})
            kind = rule_id.split("-")[0]
            rules.add(
                rule_id,
                f"{len(found)} {kind} policy violation(s): {', '.join(names[:5])}.",
                (Evidence(v.urn or "", (v.policy,)) for v in found),
            )
    if changeset.maybe_corrupt:
        rules.add(
            "maybe-corrupt-preview", "The engine reports this preview may be corrupt; run it again."
        )


def _calendar_rules(rules: _Rules, policy: RiskPolicy, context: AssessmentContext) -> None:
    windows = policy.change_windows
    if windows is not None and not windows.contains(context.now):
        rules.add("outside-change-window", windows.describe(context.now) + ".")
    for freeze in context.freezes.active(context.now) if context.freezes else ():
        rules.add("change-freeze", f"Change freeze in force: {freeze.describe()}.")


def _budget_rules(
    rules: _Rules,
    changeset: ChangeSet,
    policy: RiskPolicy,
    context: AssessmentContext,
    notes: list[str],
) -> tuple[BudgetReading, ...]:
    services = policy.error_budget.services_for(changeset.stack.rsplit("/", 1)[-1])
    if not services:
        return ()
    if context.budgets is None:
        notes.append(
            f"Error budgets of {', '.join(services)} not checked: no Prometheus configured "
            "(set SRE_PROMETHEUS_URL or error_budget.prometheus_url)."
        )
        return ()
    readings = tuple(context.budgets.remaining(service) for service in services)
    for reading in readings:
        evidence = (Evidence(changeset.stack, (reading.service,)),)
        if reading.remaining is None:
            rules.add(
                "error-budget-unknown",
                f"Error budget of {reading.service} unknown: {reading.problem}.",
                evidence,
            )
            if not policy.rule("error-budget-unknown").applies_to(rules.tier):
                notes.append(f"Error budget of {reading.service} unknown: {reading.problem}.")
        elif reading.exhausted:
            rules.add(
                "error-budget-exhausted",
                f"{reading.service} has spent its error budget ({reading.remaining:.0%} left).",
                evidence,
            )
        elif reading.remaining < policy.error_budget.low_remaining:
            rules.add(
                "error-budget-low",
                f"{reading.service} has only {reading.remaining:.0%} of its error budget left.",
                evidence,
            )
    return readings


# -- the assessment ----------------------------------------------------------------------


def assess(changeset: ChangeSet, policy: RiskPolicy, context: AssessmentContext) -> RiskAssessment:
    """Score ``changeset`` under ``policy``; every point is explained by a factor."""
    notes: list[str] = []
    tier = policy.tier_of(changeset.stack)
    if changeset.stack_mismatch and changeset.preview_stack is not None:
        urn_tier = policy.tier_of(changeset.preview_stack)
        notes.append(
            f"The preview's URNs name stack {changeset.preview_stack!r} ({urn_tier}), "
            f"gated as {changeset.stack!r} ({tier}); the stricter tier applies."
        )
        tier = max(tier, urn_tier, key=lambda t: policy.tier_multipliers.get(t, 1.0))
    multiplier = policy.tier_multipliers.get(tier, 1.0)
    changes = changeset.by_urn()
    steps = tuple(_step_risk(c, policy, multiplier) for c in changeset.actual_changes)
    rules = _Rules(policy, tier)
    for factor in (
        _riskiest_step(steps, changes, tier, multiplier),
        _change_size(steps, policy, multiplier),
        _blast_radius(changeset, policy, multiplier),
    ):
        if factor is not None and factor.points > 0:
            rules.factors.append(factor)
    _resource_rules(rules, changeset, steps)
    _gitops_rules(rules, changeset.actual_changes, context.clusters)
    _preview_rules(rules, changeset)
    readings: tuple[BudgetReading, ...] = ()
    if steps:
        _calendar_rules(rules, policy, context)
        readings = _budget_rules(rules, changeset, policy, context, notes)
    factors = tuple(rules.factors)
    score = min(100, sum(f.points for f in factors))
    level = max(
        [policy.levels.level(score), *(f.min_level for f in factors if f.min_level)],
        key=LEVELS.index,
    )
    approvals = policy.approvals
    groups: tuple[str, ...] = ()
    if context.emergency:
        change_type, required = "emergency", approvals.emergency
    else:
        change_type = (
            "standard"
            if level == "low" and not any(f.effect != "none" for f in factors)
            else "normal"
        )
        required = approvals.by_level[level]
        groups = tuple(approvals.critical_groups) if level == "critical" else ()
    return RiskAssessment(
        stack=changeset.stack,
        tier=tier,
        score=score,
        level=level,
        change_type=change_type,
        required_approvals=required,
        required_groups=groups,
        factors=factors,
        steps=steps,
        notes=tuple(notes),
        budgets=readings,
    )
