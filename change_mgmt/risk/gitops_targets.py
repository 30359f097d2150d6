"""Which clusters an Argo CD Application or ApplicationSet targets, read from its inputs.

A preview carries no cluster inventory, so old and new targets are compared by their
selectors: a new selector may reach clusters the old one could not unless every old
requirement is implied by a new one. The comparison is sound, never complete: a
requirement it cannot prove implied counts as widened (fail safe). With an inventory of
registered clusters the clusters gained and lost are counted exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.label_selectors import OPERATORS as SELECTOR_OPERATORS
from components.label_selectors import requirement_matches

UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What ``pulumi preview --json`` shows for a value not known until apply."""
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
APPLICATION_SET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
GITOPS_TYPES = frozenset({APPLICATION, APPLICATION_SET})
OPERATORS = frozenset(SELECTOR_OPERATORS)
# Generators that yield parameters, not clusters: what they target is not in the preview.
OPAQUE_GENERATORS = ("git", "scmProvider", "pullRequest", "clusterDecisionResource", "plugin")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_$]+$")


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else empty: inputs of any shape are read, not trusted."""
    return value if isinstance(value, Mapping) else {}


def key_path(prefix: str, key: str | int) -> str:
    """A property path in Pulumi's notation: ``a.b``, ``a[0]``, ``a["cluster-type"]``."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if not _BARE_KEY.match(key):
        return f'{prefix}["{key}"]'
    return f"{prefix}.{key}" if prefix else key


def unknown_paths(value: Any, path: str) -> Iterator[str]:
    """Paths under ``value`` whose value is unknown at preview time."""
    if value == UNKNOWN_VALUE:
        yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from unknown_paths(item, key_path(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unknown_paths(item, key_path(path, index))


# -- label selectors ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One requirement of a Kubernetes label selector (``matchLabels`` ones become ``In``)."""

    key: str
    operator: str
    values: frozenset[str]
    path: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return requirement_matches(self.key, self.operator, self.values, labels)

    def implies(self, other: Requirement) -> bool:
        """Every label set this requirement admits, ``other`` admits too."""
        if self.key != other.key or self.operator not in OPERATORS:
            return False
        pair = (self.operator, other.operator)
        if pair == ("In", "In"):
            return self.values <= other.values
        if pair == ("In", "NotIn"):
            return not self.values & other.values
        if pair == ("NotIn", "NotIn"):
            return other.values <= self.values
        if pair == ("DoesNotExist", "NotIn"):
            return True
        return pair in {("In", "Exists"), ("Exists", "Exists"), ("DoesNotExist", "DoesNotExist")}

    def describe(self) -> str:
        if self.operator in {"Exists", "DoesNotExist"}:
            return f"{self.key} {self.operator}"
        return f"{self.key} {self.operator} [{', '.join(sorted(self.values))}]"


@dataclass(frozen=True, slots=True)
class ClusterSelector:
    """A cluster generator's selector; no requirement selects every registered cluster."""

    requirements: tuple[Requirement, ...]
    path: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def not_implied_by(self, other: ClusterSelector) -> list[Requirement]:
        """Requirements of this selector that ``other`` does not imply: empty when every
        cluster ``other`` selects, this one selects too."""
        return [
            mine
            for mine in self.requirements
            if not any(theirs.implies(mine) for theirs in other.requirements)
        ]

    def describe(self) -> str:
        return " and ".join(r.describe() for r in self.requirements) or "every cluster"


def _selector(raw: Any, path: str) -> ClusterSelector:
    raw = as_mapping(raw)
    found: list[Requirement] = []
    labels = raw.get("matchLabels")
    for key, value in as_mapping(labels).items():
        where = key_path(key_path(path, "matchLabels"), str(key))
        found.append(Requirement(str(key), "In", frozenset({str(value)}), where))
    expressions = raw.get("matchExpressions")
    for index, raw_item in enumerate(expressions if isinstance(expressions, list) else []):
        item = as_mapping(raw_item)
        values = item.get("values")
        found.append(
            Requirement(
                str(item.get("key")),
                str(item.get("operator")),
                frozenset(str(v) for v in (values if isinstance(values, list) else [])),
                key_path(key_path(path, "matchExpressions"), index),
            )
        )
    return ClusterSelector(tuple(found), path)


# -- registered clusters -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisteredCluster:
    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterInventory:
    """The clusters registered with Argo CD for the gated environment, with their labels
    (``gitops/clusters/<env>.yaml``); the gate passes it in, the scorer reads no file."""

    clusters: tuple[RegisteredCluster, ...]

    def selected(self, selector: ClusterSelector) -> set[str]:
        return {c.name for c in self.clusters if selector.matches(c.labels)}

    def named(self, destination: Mapping[str, str]) -> str | None:
        """The registered cluster a destination or list element names, if any."""
        for cluster in self.clusters:
            if (
                destination.get("name") == cluster.name
                or destination.get("cluster") == cluster.name
            ):
                return cluster.name
            if cluster.server in (destination.get("server"), destination.get("url")):
                return cluster.name
        return None


# -- targets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Destination:
    """One explicit target: an Application's destination or a list generator element."""

    identity: str
    fields: Mapping[str, str]
    path: str

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.fields.items())) or "no destination"


@dataclass(frozen=True)
class Targets:
    selectors: tuple[ClusterSelector, ...] = ()
    destinations: tuple[Destination, ...] = ()
    opaque: Mapping[str, str] = field(default_factory=dict)
    """Canonical JSON of each generator the preview cannot resolve -> its path."""

    def describe(self) -> list[str]:
        return [
            *(f"{s.path}: {s.describe()}" for s in self.selectors),
            *(f"{d.path}: {d.describe()}" for d in self.destinations),
            *(f"{path}: not computable from the preview" for path in self.opaque.values()),
        ]

    def clusters(self, inventory: ClusterInventory) -> set[str] | None:
        """The registered clusters targeted; None when the preview cannot say."""
        if self.opaque:
            return None
        found: set[str] = set()
        for selector in self.selectors:
            found |= inventory.selected(selector)
        for destination in self.destinations:
            name = inventory.named(destination.fields)
            if name is None:
                return None
            found.add(name)
        return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _strings(raw: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, (str, int, float))}


def _walk_generators(raw: Any, path: str, into: dict[str, Any]) -> None:
    for index, raw_generator in enumerate(raw if isinstance(raw, list) else []):
        where = key_path(path, index)
        generator = as_mapping(raw_generator)
        if "clusters" in generator:
            clusters = as_mapping(generator["clusters"])
            selector_path = key_path(key_path(where, "clusters"), "selector")
            into["selectors"].append(_selector(clusters.get("selector"), selector_path))
        elif isinstance(generator.get("list"), Mapping) and "elementsYaml" not in generator["list"]:
            elements = generator["list"].get("elements")
            base = key_path(key_path(where, "list"), "elements")
            for position, raw_element in enumerate(elements if isinstance(elements, list) else []):
                element = as_mapping(raw_element)
                into["destinations"].append(
                    Destination(_canonical(element), _strings(element), key_path(base, position))
                )
        elif nested := next((k for k in ("matrix", "merge") if k in generator), None):
            inner = as_mapping(generator[nested])
            _walk_generators(
                inner.get("generators"), key_path(key_path(where, nested), "generators"), into
            )
        else:  # git, scmProvider, pullRequest, plugin, ..., list.elementsYaml
            into["opaque"][_canonical(generator)] = where


def targets_of(type_token: str, inputs: Mapping[str, Any] | None) -> Targets | None:
    """The targets an Application or ApplicationSet's inputs declare; None for other types
    or no inputs."""
    spec = (inputs or {}).get("spec")
    if type_token not in GITOPS_TYPES or not isinstance(spec, Mapping):
        return None
    if type_token == APPLICATION:
        destination = spec.get("destination")
        fields = _strings(as_mapping(destination))
        target = {k: v for k, v in fields.items() if k in ("name", "server")}
        return Targets(destinations=(Destination(_canonical(target), target, "spec.destination"),))
    into: dict[str, Any] = {"selectors": [], "destinations": [], "opaque": {}}
    _walk_generators(spec.get("generators"), "spec.generators", into)
    return Targets(tuple(into["selectors"]), tuple(into["destinations"]), into["opaque"])


# -- comparing old and new ---------------------------------------------------------------


def _gap_evidence(gap: Requirement, ours: ClusterSelector, widened: bool) -> str:
    """One requirement that separates ``ours`` from the selector ``gap`` belongs to,
    worded from the old selector to the new one."""
    same_key = [r for r in ours.requirements if r.key == gap.key]
    mine = "; ".join(r.describe() for r in same_key)
    if widened:  # ``gap`` is an old requirement the new selector (``ours``) loosened
        if same_key:
            return f"{same_key[0].path}: {gap.describe()} → {mine}"
        return f"{ours.path}: {gap.describe()} no longer required"
    if same_key:  # ``gap`` is a new requirement the old selector (``ours``) did not imply
        return f"{gap.path}: {mine} → {gap.describe()}"
    return f"{gap.path}: {gap.describe()} newly required"


def _uncovered(
    ours: Sequence[ClusterSelector], theirs: Sequence[ClusterSelector], widened: bool
) -> Iterator[str]:
    """Why each selector of ``ours`` may select clusters no selector of ``theirs`` does."""
    for selector in ours:
        if not theirs:
            verb = "new" if widened else "removed"
            yield f"{selector.path}: {selector.describe()} ({verb} cluster generator)"
            continue
        gaps = [other.not_implied_by(selector) for other in theirs]
        if any(not gap for gap in gaps):
            continue
        for gap in min(gaps, key=len):
            yield _gap_evidence(gap, selector, widened)


def _explicit(ours: Targets, theirs: Targets, verb: str) -> Iterator[str]:
    known = {d.identity for d in theirs.destinations}
    for destination in ours.destinations:
        if destination.identity not in known:
            yield f"{destination.path}: {destination.describe()} ({verb})"
    for canonical, path in ours.opaque.items():
        if canonical not in theirs.opaque:
            yield f"{path}: {verb} generator whose clusters the preview cannot compute"


def widening(old: Targets, new: Targets) -> list[str]:
    """Evidence that ``new`` may target clusters ``old`` does not (empty: it cannot)."""
    return [*_uncovered(new.selectors, old.selectors, True), *_explicit(new, old, "new")]


def narrowing(old: Targets, new: Targets) -> list[str]:
    """Evidence that ``old`` targets clusters ``new`` may not (empty: it cannot)."""
    return [*_uncovered(old.selectors, new.selectors, False), *_explicit(old, new, "removed")]
