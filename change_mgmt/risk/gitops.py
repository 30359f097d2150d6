"""Detectors for what a change to an Argo CD Application or ApplicationSet does.

Pure functions of one ResourceChange (plus, for counting clusters, an optional cluster
inventory): each returns the property paths, with what changed there, that made it fire
(empty: it did not). A value unknown at preview time makes none of them fire; it is
reported by :func:`unknown_inputs` and scored on its own (fail safe).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from change_mgmt.gitops.revisions import is_exact
from change_mgmt.preview import ResourceChange
from change_mgmt.risk.gitops_targets import (
    APPLICATION,
    APPLICATION_SET,
    GITOPS_TYPES,
    UNKNOWN_VALUE,
    ClusterInventory,
    Targets,
    as_mapping,
    key_path,
    narrowing,
    targets_of,
    unknown_paths,
    widening,
)

REMOVING_OPS = frozenset({"delete", "replace"})


def _app_spec(type_token: str, inputs: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], str]:
    """The Application spec (an ApplicationSet's template spec) and its path."""
    spec = as_mapping(as_mapping(inputs).get("spec"))
    if type_token == APPLICATION_SET:
        return as_mapping(as_mapping(spec.get("template")).get("spec")), "spec.template.spec"
    return spec, "spec"


def is_exact_revision(revision: Any) -> bool:
    """An exact version or full commit id (``change_mgmt.gitops.revisions``, the rule
    ``sre gitops validate`` applies); a ref that can move, a template or nothing is not."""
    return isinstance(revision, str) and is_exact(revision)


# -- sources -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    identity: tuple[str, str]
    chart: bool
    revision: Any
    path: str


def _sources(change: ResourceChange, inputs: Mapping[str, Any] | None) -> list[_Source]:
    spec, base = _app_spec(change.type, inputs)
    found: list[tuple[Mapping[str, Any], str]] = []
    if "source" in spec:
        found.append((as_mapping(spec["source"]), key_path(base, "source")))
    sources = spec.get("sources")
    for index, item in enumerate(sources if isinstance(sources, list) else []):
        found.append((as_mapping(item), key_path(key_path(base, "sources"), index)))
    return [
        _Source(
            (str(raw.get("repoURL")), str(raw.get("chart") or raw.get("path") or "")),
            "chart" in raw,
            raw.get("targetRevision"),
            key_path(where, "targetRevision"),
        )
        for raw, where in found
    ]


def _paired(change: ResourceChange) -> Iterator[tuple[_Source | None, _Source]]:
    """Each new source with the old source it replaces: same repo and chart/path, else
    the one at the same path, else none (a new source)."""
    if change.type not in GITOPS_TYPES or change.op == "delete":
        return
    old = _sources(change, change.old_inputs)
    by_identity = {s.identity: s for s in old}
    by_path = {s.path: s for s in old}
    for source in _sources(change, change.new_inputs):
        yield by_identity.get(source.identity) or by_path.get(source.path), source


def mutable_revisions(change: ResourceChange) -> list[str]:
    """Sources whose ``targetRevision`` moves to a ref that can move (or that are added
    with one): the clusters then run whatever the ref points at when they sync."""
    found = []
    for old, new in _paired(change):
        if new.revision == UNKNOWN_VALUE or is_exact_revision(new.revision):
            continue
        if old is None or is_exact_revision(old.revision):
            before = "nothing" if old is None else old.revision
            after = new.revision if new.revision is not None else "unset (HEAD)"
            found.append(f"{new.path}: {before} → {after}")
    return found


def _major(revision: Any) -> str | None:
    if not is_exact_revision(revision) or "." not in revision:
        return None  # not exact, or a commit id (which has no major version)
    return str(revision).removeprefix("v").split(".", 1)[0]


def chart_major_changes(change: ResourceChange) -> list[str]:
    """Helm sources whose exact chart version changes major version (up or down)."""
    found = []
    for old, new in _paired(change):
        if old is None or not new.chart:
            continue
        before, after = _major(old.revision), _major(new.revision)
        if before is not None and after is not None and before != after:
            found.append(f"{new.path}: {old.revision} → {new.revision}")
    return found


# -- sync policy -------------------------------------------------------------------------


def _prunes(change: ResourceChange, inputs: Mapping[str, Any] | None) -> tuple[bool, str]:
    spec, base = _app_spec(change.type, inputs)
    automated = as_mapping(spec.get("syncPolicy")).get("automated")
    path = key_path(key_path(key_path(base, "syncPolicy"), "automated"), "prune")
    if not isinstance(automated, Mapping) or automated.get("enabled") is False:
        return False, path
    return automated.get("prune") is True, path


def prune_switched_on(change: ResourceChange) -> list[str]:
    """Automated sync with ``prune`` switched on where an existing app had it off: Argo CD
    then deletes from the clusters whatever disappears from git, unasked."""
    if change.type not in GITOPS_TYPES or change.old_inputs is None or change.op == "delete":
        return []
    before, _ = _prunes(change, change.old_inputs)
    after, path = _prunes(change, change.new_inputs)
    return [f"{path}: off → on"] if after and not before else []


# -- targets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetChange:
    """Clusters gained or lost: the evidence, and which registered clusters (None: the
    number is unknown, no inventory or a target the preview cannot resolve)."""

    paths: tuple[str, ...]
    clusters: tuple[str, ...] | None


def _targets(change: ResourceChange) -> tuple[Targets | None, Targets | None]:
    """Old and new targets; both None when a target value is unknown at preview time."""
    if any(_target_unknowns(change, inputs) for inputs in (change.old_inputs, change.new_inputs)):
        return None, None
    return targets_of(change.type, change.old_inputs), targets_of(change.type, change.new_inputs)


def _counted(
    paths: list[str], gained: Targets, kept: Targets | None, inventory: ClusterInventory | None
) -> TargetChange | None:
    if not paths:
        return None
    if inventory is None:
        return TargetChange(tuple(paths), None)
    ours = gained.clusters(inventory)
    theirs = kept.clusters(inventory) if kept is not None else set()
    if ours is None or theirs is None:
        return TargetChange(tuple(paths), None)
    clusters = tuple(sorted(ours - theirs))
    return TargetChange(tuple(paths), clusters) if clusters else None


def widened_targets(
    change: ResourceChange, inventory: ClusterInventory | None = None
) -> TargetChange | None:
    """An update that may send the app to clusters it did not go to. With an inventory,
    only when a registered cluster is newly matched."""
    if change.op not in {"update", "replace"}:
        return None
    old, new = _targets(change)
    if old is None or new is None:
        return None
    return _counted(widening(old, new), new, old, inventory)


def removed_targets(
    change: ResourceChange, inventory: ClusterInventory | None = None
) -> TargetChange | None:
    """A delete or replace of an app, or an update that may stop it going to clusters it
    went to: Argo CD then deletes it there."""
    old, new = _targets(change)
    if old is None:
        return None
    if change.op in REMOVING_OPS:
        verb = "deleted" if change.op == "delete" else "replaced (deleted, then created)"
        return _counted([f"{p} ({verb})" for p in old.describe()], old, None, inventory)
    if new is None or change.op != "update":
        return None
    return _counted(narrowing(old, new), old, new, inventory)


# -- unknown values ----------------------------------------------------------------------


def _target_unknowns(change: ResourceChange, inputs: Mapping[str, Any] | None) -> list[str]:
    if inputs is None or change.type not in GITOPS_TYPES:
        return []
    spec = as_mapping(inputs).get("spec")
    if spec == UNKNOWN_VALUE:
        return ["spec"]
    if change.type == APPLICATION:
        return list(unknown_paths(as_mapping(spec).get("destination"), "spec.destination"))
    return list(unknown_paths(as_mapping(spec).get("generators"), "spec.generators"))


def unknown_inputs(change: ResourceChange) -> list[str]:
    """Inputs the GitOps rules read whose new value is unknown until apply: the rules
    cannot say what the change does there, so it is scored on its own (fail safe)."""
    if change.type not in GITOPS_TYPES or change.new_inputs is None:
        return []
    found = _target_unknowns(change, change.new_inputs)
    if found == ["spec"]:
        return found
    spec, base = _app_spec(change.type, change.new_inputs)
    if (
        change.type == APPLICATION_SET
        and as_mapping(change.new_inputs["spec"]).get("template") == UNKNOWN_VALUE
    ):
        return [*found, "spec.template"]
    for key in ("source", "sources", "syncPolicy", "destination"):
        if change.type == APPLICATION and key == "destination":
            continue  # already read as the target
        found.extend(unknown_paths(spec.get(key), key_path(base, key)))
    return found
