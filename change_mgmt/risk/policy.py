"""The risk policy: one YAML document that says how risky each kind of change is.

The package ships ``default-policy.yaml``; a repository overrides parts of it with a
``risk-policy.yaml`` at its root (mappings merge key by key; lists and values replace).
Scoring code reads only this model, so every weight, threshold and rule switch is data.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
from collections.abc import Collection
from fnmatch import fnmatchcase
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from change_mgmt.documents import (
    DocumentError,
    LoadedDocument,
    Location,
    Problem,
    field_name,
    load_yaml_mapping,
    validation_problems,
)
from change_mgmt.risk.calendar import ChangeWindows
from change_mgmt.slo.fields import SafeName

Level = Literal["low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = ("low", "medium", "high", "critical")
Effect = Literal["none", "block", "close-unless-emergency"]

REPOSITORY_POLICY_FILE = "risk-policy.yaml"
DEFAULT_POLICY_RESOURCE = "default-policy.yaml"
DEFAULT_POLICY_DISPLAY = f"change_mgmt/risk/{DEFAULT_POLICY_RESOURCE}"
POLICY = "risk policy"
"""Where a policy built in code (not loaded from a file) says its problems are."""

# Every rule the scorer knows, with what it detects. The policy tunes them; code detects.
RULES: dict[str, str] = {
    "stateful-delete-in-production": "delete or replace of a stateful resource",
    "protected-delete": "delete or replace of a resource with `protect` set",
    "open-ingress": "security-group ingress newly opened to 0.0.0.0/0 or ::/0",
    "iam-wildcard": "IAM policy newly granting `*` actions or resources",
    "major-version-replace": "replace triggered by an engine or major-version change",
    "unknown-op": "a step op this tool does not know (scored as the riskiest op)",
    "unknown-resource-class": "a resource type in no class (scored as the riskiest class)",
    "mandatory-policy-violation": "a mandatory CrossGuard policy violation",
    "advisory-policy-violation": "an advisory CrossGuard policy violation",
    "maybe-corrupt-preview": "the engine says the preview may be corrupt",
    "outside-change-window": "the change is assessed outside the change windows",
    "change-freeze": "a freeze period is in force",
    "error-budget-exhausted": "an affected service has no error budget left",
    "error-budget-low": "an affected service has little error budget left",
    "error-budget-unknown": "an affected service's error budget could not be read",
    "gitops-targets-widened": "an Argo CD app may now go to clusters it did not go to",
    "gitops-mutable-revision": "an Argo CD source's targetRevision moves to a ref that can move",
    "gitops-chart-major-change": "an Argo CD Helm source changes chart major version",
    "gitops-prune-enabled": "automated prune is switched on for an existing Argo CD app",
    "gitops-removed-from-clusters": "an Argo CD app is deleted or stops going to clusters",
    "gitops-unknown-input": "an input the GitOps rules read is unknown until apply",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierPattern(_Strict):
    pattern: str = Field(min_length=1, description="Shell-style pattern on the stack name.")
    tier: str = Field(min_length=1)


class ResourceClass(_Strict):
    description: str = Field(min_length=1, description="Words for it in explanations.")
    weight: float = Field(ge=0, le=100, description="Points a production delete costs.")
    stateful: bool = False
    types: list[str] = Field(min_length=1, description="Shell-style patterns on type tokens.")


class RuleSettings(_Strict):
    enabled: bool = True
    points: float = Field(default=0, ge=0, le=100)
    min_level: Level | None = None
    effect: Effect = "none"
    tiers: list[str] | None = Field(default=None, description="Tiers it applies to; all if unset.")
    points_per_cluster: float = Field(
        default=0, ge=0, le=100, description="Rules counting clusters: points per cluster past one."
    )
    max_points: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The cap of points_per_cluster, and the points "
        "when the number of clusters is unknown.",
    )

    @model_validator(mode="after")
    def _capped(self) -> RuleSettings:
        if self.points_per_cluster and self.max_points is None:
            raise ValueError(
                "points_per_cluster needs max_points: the cap, and the points "
                "when the number of clusters is unknown"
            )
        if self.max_points is not None and self.max_points < self.points:
            raise ValueError("max_points must be at least points")
        return self

    def applies_to(self, tier: str) -> bool:
        return self.enabled and (self.tiers is None or tier in self.tiers)

    def cluster_points(self, clusters: int | None) -> float:
        """``points`` for one cluster, plus ``points_per_cluster`` for each further one, up
        to ``max_points``; an unknown number of clusters scores the cap (fail safe)."""
        if self.max_points is None:
            return self.points
        if clusters is None:
            return self.max_points
        grown = self.points + self.points_per_cluster * max(clusters - 1, 0)
        return min(grown, self.max_points)


class ChangeSize(_Strict):
    points_per_doubling: float = Field(default=4, ge=0)
    max_points: float = Field(default=20, ge=0, le=100)


class BlastRadius(_Strict):
    points_per_dependent: float = Field(default=2, ge=0)
    max_points: float = Field(default=20, ge=0, le=100)


class LevelThresholds(_Strict):
    medium: float = Field(default=20, gt=0, le=100)
    high: float = Field(default=45, gt=0, le=100)
    critical: float = Field(default=70, gt=0, le=100)

    @model_validator(mode="after")
    def _increasing(self) -> LevelThresholds:
        if not self.medium < self.high < self.critical:
            raise ValueError("thresholds must increase: medium < high < critical")
        return self

    def level(self, score: float) -> Level:
        if score >= self.critical:
            return "critical"
        if score >= self.high:
            return "high"
        return "medium" if score >= self.medium else "low"


def _default_approvals() -> dict[Level, int]:
    return {"low": 0, "medium": 1, "high": 2, "critical": 2}


class ApprovalRequirements(_Strict):
    by_level: dict[Level, int] = Field(default_factory=_default_approvals)
    critical_groups: list[str] = Field(default_factory=lambda: ["sre"])
    emergency: int = Field(default=1, ge=0)
    emergency_review_hours: int = Field(default=48, gt=0)
    count_jira_service_management: bool = Field(
        default=False,
        description="Count approvals given in Jira Service Management on the change ticket.",
    )

    @field_validator("by_level")
    @classmethod
    def _every_level(cls, value: dict[Level, int]) -> dict[Level, int]:
        missing = [level for level in LEVELS if level not in value]
        if missing:
            raise ValueError(f"give a number of approvals for every level; missing {missing}")
        if any(count < 0 for count in value.values()):
            raise ValueError("approval counts cannot be negative")
        return value


def _replaced(value: Any) -> Any:
    raise ValueError(
        "error_budget.query and error_budget.services were replaced by error_budget.slos: "
        "map stack patterns to SLO ids from slos/ (`sre slo list`), e.g. "
        '"prod*": [mattermost-api-requests-availability]; the gate reads their '
        "slo:period_error_budget_remaining:ratio"
    )


Replaced = Annotated[Any, AfterValidator(_replaced)]
"""A field of an older policy format: refused with how to write it now."""


class ErrorBudgetSettings(_Strict):
    prometheus_url: str | None = None
    slos: dict[str, list[SafeName]] = Field(
        default_factory=dict,
        description="Stack-name pattern -> ids (sloth_id, <service>-<slo>) of the SLOs in "
        "slos/ whose error budget the stack spends.",
    )
    low_remaining: float = Field(default=0.25, ge=0, le=1)
    timeout_seconds: float = Field(default=5, gt=0, le=60)
    query: Replaced = Field(default=None, exclude=True)
    services: Replaced = Field(default=None, exclude=True)

    def slos_for(self, stack: str) -> list[str]:
        found: list[str] = []
        for pattern, slos in self.slos.items():
            if fnmatchcase(stack, pattern):
                found.extend(s for s in slos if s not in found)
        return found

    def services_for(self, stack: str) -> list[str]:
        """``slos_for`` under the name ``assess`` calls it by."""
        return self.slos_for(stack)


def _check_rule_ids(rules: dict[str, Any]) -> None:
    """Every id names a known rule; a misspelt one gets a "did you mean"."""
    for rule_id in rules:
        if rule_id not in RULES:
            close = difflib.get_close_matches(rule_id, RULES, n=1, cutoff=0.6)
            hint = (
                f"; did you mean {close[0]!r}?" if close else f"; known rules: {', '.join(RULES)}"
            )
            raise ValueError(f"unknown rule {rule_id!r}{hint}")


class RiskPolicy(_Strict):
    version: Literal[1] = 1
    tiers: list[TierPattern]
    tier_multipliers: dict[str, float]
    op_weights: dict[str, float] = Field(min_length=1)
    resource_classes: dict[str, ResourceClass] = Field(min_length=1)
    rules: dict[str, RuleSettings]
    change_size: ChangeSize = ChangeSize()
    blast_radius: BlastRadius = BlastRadius()
    levels: LevelThresholds = LevelThresholds()
    approvals: ApprovalRequirements = ApprovalRequirements()
    change_windows: ChangeWindows | None = None
    freeze_calendar: str | None = None
    error_budget: ErrorBudgetSettings = ErrorBudgetSettings()
    _class_cache: dict[str, tuple[str, ResourceClass] | None] = PrivateAttr(default_factory=dict)
    _slo_marks: dict[tuple[str, int], Problem] = PrivateAttr(default_factory=dict)
    """(pattern, index) of each id in ``error_budget.slos`` -> where it is written."""

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, RuleSettings]) -> dict[str, RuleSettings]:
        _check_rule_ids(value)
        return value

    @field_validator("op_weights")
    @classmethod
    def _weights_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {op: w for op, w in value.items() if not 0 <= w <= 1}
        if bad:
            raise ValueError(f"op weights are between 0 and 1; got {bad}")
        return value

    @model_validator(mode="after")
    def _tiers_have_multipliers(self) -> RiskPolicy:
        named = {t.tier for t in self.tiers} | {"production"}
        missing = sorted(named - self.tier_multipliers.keys())
        if missing:
            raise ValueError(f"tier_multipliers needs a factor for tiers {missing}")
        return self

    def tier_of(self, stack: str) -> str:
        """The tier of ``stack`` (short or org/project/stack); production if none matches."""
        name = stack.rsplit("/", 1)[-1]
        return next((t.tier for t in self.tiers if fnmatchcase(name, t.pattern)), "production")

    def unknown_slo_problems(self, known: Collection[str], where: str) -> list[Problem]:
        """Every SLO id ``error_budget.slos`` names that is not in ``known`` (the ids of
        ``where``, the SLO directory), at the file and line that names it."""
        problems = []
        for pattern, slo_ids in self.error_budget.slos.items():
            for index, slo_id in enumerate(slo_ids):
                if slo_id in known:
                    continue
                close = difflib.get_close_matches(slo_id, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {_listed(known)}"
                field = field_name(_slo_location(pattern, index))
                mark = self._slo_marks.get((pattern, index), Problem(POLICY, 1, 1, field, ""))
                message = f"no SLO {slo_id!r} in {where}/ ({hint}); ids are <service>-<slo>"
                problems.append(dataclasses.replace(mark, message=message))
        return sorted(problems)

    def rule(self, rule_id: str) -> RuleSettings:
        return self.rules.get(rule_id, RuleSettings(enabled=False))

    @cached_property
    def riskiest_op_weight(self) -> float:
        return max(self.op_weights.values())

    @cached_property
    def riskiest_class(self) -> tuple[str, ResourceClass]:
        return max(
            self.resource_classes.items(), key=lambda item: (item[1].weight, item[1].stateful)
        )

    def classify(self, type_token: str) -> tuple[str, ResourceClass] | None:
        """The first class whose pattern matches ``type_token``; None when none does
        (cached: a preview has many resources of few types)."""
        if type_token not in self._class_cache:
            self._class_cache[type_token] = next(
                (
                    (name, cls)
                    for name, cls in self.resource_classes.items()
                    if any(fnmatchcase(type_token, pattern) for pattern in cls.types)
                ),
                None,
            )
        return self._class_cache[type_token]


def _listed(known: Collection[str]) -> str:
    return ", ".join(sorted(known)) or "none"


# -- loading -----------------------------------------------------------------------------


def _slo_location(pattern: str, index: int) -> Location:
    return ("error_budget", "slos", pattern, index)


@functools.cache
def _default_document() -> LoadedDocument:
    """The shipped policy, read once with positions (for errors that point into it)."""
    resource = resources.files("change_mgmt.risk").joinpath(DEFAULT_POLICY_RESOURCE)
    with resources.as_file(resource) as path:
        return load_yaml_mapping(path, display_path=DEFAULT_POLICY_DISPLAY, max_bytes=256 * 1024)


def _default_data() -> dict[str, Any]:
    return copy.deepcopy(_default_document().data)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: mappings merge recursively, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _with_slo_marks(policy: RiskPolicy, documents: list[LoadedDocument]) -> RiskPolicy:
    """Remember where each SLO id is written: the first of ``documents`` (the repository's
    override, then the shipped policy) that has the pattern wrote its whole list."""
    for pattern, slo_ids in policy.error_budget.slos.items():
        owner = next(
            (d for d in documents if ("error_budget", "slos", pattern) in d.value_marks),
            documents[-1],
        )
        for index in range(len(slo_ids)):
            policy._slo_marks[(pattern, index)] = owner.problem(_slo_location(pattern, index), "")
    return policy


def default_policy() -> RiskPolicy:
    return _with_slo_marks(RiskPolicy.model_validate(_default_data()), [_default_document()])


def _validated(data: dict[str, Any], document: LoadedDocument) -> RiskPolicy:
    try:
        policy = RiskPolicy.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, RiskPolicy)) from None
    return _with_slo_marks(policy, [document, _default_document()])


def load_risk_policy(path: Path | None, *, display_path: str | None = None) -> RiskPolicy:
    """The shipped policy with the repository's overrides in ``path`` (if it exists)."""
    if path is None or not path.is_file():
        return default_policy()
    document = load_yaml_mapping(path, display_path=display_path, max_bytes=256 * 1024)
    return _validated(merge(_default_data(), document.data), document)
