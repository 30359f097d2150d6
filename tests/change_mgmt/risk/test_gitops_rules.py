"""The GitOps rules as pure functions of hand-built ResourceChanges, and through assess."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from change_mgmt.preview import ResourceChange, parse_preview_json
from change_mgmt.risk.assess import AssessmentContext, assess
from change_mgmt.risk.gitops import (
    chart_major_changes,
    mutable_revisions,
    prune_switched_on,
    removed_targets,
    unknown_inputs,
    widened_targets,
)
from change_mgmt.risk.gitops_targets import (
    APPLICATION,
    APPLICATION_SET,
    UNKNOWN_VALUE,
    ClusterInventory,
    RegisteredCluster,
)
from change_mgmt.risk.policy import default_policy
from tests.change_mgmt.preview.builders import preview_json, step
from tests.components.crd_schema import crd_problems
from tests.conftest import REPO_ROOT

SELECTOR = "spec.generators[0].clusters.selector"
SOURCE = "spec.template.spec.source.targetRevision"
INVENTORY = ClusterInventory(
    (
        RegisteredCluster("cnc-prod", "https://cnc", {"cluster-type": "cnc", "cluster-id": "c1"}),
        RegisteredCluster("cust-a", "https://a", {"cluster-type": "customer", "cluster-id": "a"}),
        RegisteredCluster("cust-b", "https://b", {"cluster-type": "customer", "cluster-id": "b"}),
    )
)


def appset(
    selector: dict[str, Any] | None = None,
    *,
    generators: list[dict[str, Any]] | None = None,
    revision: Any = "65.1.0",
    automated: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ApplicationSet inputs as pulumi-kubernetes' CustomResource shows them."""
    spec: dict[str, Any] = {
        "repoURL": "https://prometheus-community.github.io/helm-charts",
        "chart": "kube-prometheus-stack",
        "targetRevision": revision,
    }
    template_spec: dict[str, Any] = {
        "project": "sre",
        "source": spec,
        "destination": {"server": "{{.server}}", "namespace": "prometheus"},
    }
    if automated is not None:
        template_spec["syncPolicy"] = {"automated": automated}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "kube-prometheus-stack", "namespace": "argocd"},
        "spec": {
            "goTemplate": True,
            "generators": generators
            if generators is not None
            else [{"clusters": {"selector": selector or {}}}],
            "template": {"metadata": {"name": "kps-{{.name}}"}, "spec": template_spec},
        },
    }


def change(
    op: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    type_: str = APPLICATION_SET,
) -> ResourceChange:
    return ResourceChange(
        urn=f"urn:pulumi:prod::sre-platform::{type_}::kps",
        type=type_,
        name="kps",
        op=op,
        ops=(op,),
        old_inputs=old,
        new_inputs=new,
    )


def update(old: dict[str, Any], new: dict[str, Any]) -> ResourceChange:
    return change("update", old, new)


CUSTOMER = {"matchLabels": {"cluster-type": "customer"}}
IDS_A = {"matchExpressions": [{"key": "cluster-id", "operator": "In", "values": ["a"]}]}
IDS_AB = {"matchExpressions": [{"key": "cluster-id", "operator": "In", "values": ["a", "b"]}]}
NOT_B = {"matchExpressions": [{"key": "cluster-id", "operator": "NotIn", "values": ["b"]}]}
NOT_AB = {"matchExpressions": [{"key": "cluster-id", "operator": "NotIn", "values": ["a", "b"]}]}


# -- targets widened ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "evidence"),
    [
        (
            CUSTOMER,
            {},
            f"{SELECTOR}: cluster-type In [customer] no longer required",
        ),
        (
            IDS_A,
            IDS_AB,
            f"{SELECTOR}.matchExpressions[0]: cluster-id In [a] → cluster-id In [a, b]",
        ),
        (
            NOT_AB,
            NOT_B,
            f"{SELECTOR}.matchExpressions[0]: cluster-id NotIn [a, b] → cluster-id NotIn [b]",
        ),
        (
            CUSTOMER,
            {"matchLabels": {"cluster-type": "cnc"}},
            f'{SELECTOR}.matchLabels["cluster-type"]: cluster-type In [customer] → '
            "cluster-type In [cnc]",
        ),
    ],
    ids=["matchLabels-key-removed", "In-grown", "NotIn-shrunk", "label-value-changed"],
)
def test_a_widened_selector_fires_with_the_path_that_widened(
    old: dict[str, Any], new: dict[str, Any], evidence: str
) -> None:
    found = widened_targets(update(appset(old), appset(new)))
    assert found is not None
    assert found.paths == (evidence,)
    assert found.clusters is None  # no inventory: the number is unknown


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (CUSTOMER, CUSTOMER),
        (IDS_AB, IDS_A),  # In shrunk
        (NOT_B, NOT_AB),  # NotIn grown
        (CUSTOMER, {"matchLabels": {"cluster-type": "customer", "region": "eu"}}),
        (IDS_A, {"matchLabels": {"cluster-id": "a"}}),  # the same set, written differently
    ],
)
def test_a_selector_that_selects_no_more_does_not_fire(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    assert widened_targets(update(appset(old), appset(new))) is None


def test_a_generator_covered_by_another_is_no_widening_but_a_new_one_is() -> None:
    old = appset(generators=[{"clusters": {"selector": CUSTOMER}}])
    narrower = {"matchLabels": {"cluster-type": "customer", "cluster-id": "a"}}
    same_twice = appset(
        generators=[{"clusters": {"selector": narrower}}, *old["spec"]["generators"]]
    )
    assert widened_targets(update(old, same_twice)) is None
    wider = appset(generators=[*old["spec"]["generators"], {"clusters": {"selector": NOT_B}}])
    found = widened_targets(update(old, wider))
    assert found is not None
    assert found.paths == (
        "spec.generators[1].clusters.selector: cluster-type In [customer] no longer required",
    )


def test_a_grown_list_generator_fires_per_new_element() -> None:
    def listed(*names: str) -> dict[str, Any]:
        elements = [{"cluster": n, "url": f"https://{n}"} for n in names]
        return appset(generators=[{"list": {"elements": elements}}])

    found = widened_targets(update(listed("a"), listed("a", "b")))
    assert found is not None
    assert found.paths == ("spec.generators[0].list.elements[1]: cluster b, url https://b (new)",)
    assert widened_targets(update(listed("a", "b"), listed("b"))) is None


def test_with_an_inventory_the_newly_matched_clusters_are_counted() -> None:
    found = widened_targets(update(appset(IDS_A), appset(CUSTOMER)), INVENTORY)
    assert found is not None
    assert found.clusters == ("cust-b",)
    # Wider on paper, but no registered cluster is newly matched: nothing to score.
    region_only = appset({"matchLabels": {"region": "eu"}})
    assert widened_targets(update(appset(CUSTOMER), region_only), INVENTORY) is None


def test_a_generator_the_preview_cannot_resolve_is_a_widening_of_unknown_size() -> None:
    git = {"git": {"repoURL": "https://example.com/r.git", "revision": "main", "files": []}}
    old = appset(CUSTOMER)
    new = appset(generators=[*old["spec"]["generators"], git])
    found = widened_targets(update(old, new), INVENTORY)
    assert found is not None
    assert found.clusters is None
    assert found.paths == (
        "spec.generators[1]: new generator whose clusters the preview cannot compute",
    )


def test_an_application_moved_to_another_cluster_gains_and_loses_one() -> None:
    def app(server: str) -> dict[str, Any]:
        return {"spec": {"destination": {"server": server, "namespace": "x"}, "project": "sre"}}

    moved = change("update", app("https://a"), app("https://b"), APPLICATION)
    gained, lost = widened_targets(moved, INVENTORY), removed_targets(moved, INVENTORY)
    assert gained is not None and gained.clusters == ("cust-b",)
    assert lost is not None and lost.clusters == ("cust-a",)
    assert gained.paths == ("spec.destination: server https://b (new)",)


# -- removed from clusters ---------------------------------------------------------------


def test_a_deleted_applicationset_is_removed_from_every_cluster_it_targeted() -> None:
    found = removed_targets(change("delete", appset(CUSTOMER), None), INVENTORY)
    assert found is not None
    assert found.clusters == ("cust-a", "cust-b")
    assert found.paths == (f"{SELECTOR}: cluster-type In [customer] (deleted)",)


def test_a_narrowed_selector_removes_the_app_from_clusters() -> None:
    found = removed_targets(update(appset(IDS_AB), appset(IDS_A)), INVENTORY)
    assert found is not None
    assert found.clusters == ("cust-b",)
    assert found.paths == (
        f"{SELECTOR}.matchExpressions[0]: cluster-id In [a, b] → cluster-id In [a]",
    )
    tightened = {"matchLabels": {"cluster-type": "customer", "tier": "gold"}}
    assert removed_targets(update(appset(CUSTOMER), appset(tightened))) is not None
    assert removed_targets(update(appset(IDS_A), appset(IDS_AB))) is None
    assert removed_targets(change("create", None, appset(CUSTOMER))) is None


# -- revisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        ("65.1.0", "HEAD", True),
        ("65.1.0", "main", True),
        ("65.1.0", None, True),  # unset: Argo CD follows HEAD
        ("65.1.0", "65.*", True),
        ("v1.2.3", "1a2b3c4", True),  # a short commit id is ambiguous
        ("65.1.0", "65.2.0", False),
        ("65.1.0", "0123456789abcdef0123456789abcdef01234567", False),
        ("main", "HEAD", False),  # was mutable already: no move
        ("65.1.0", UNKNOWN_VALUE, False),  # unknown: scored by gitops-unknown-input
    ],
)
def test_mutable_revision(old: str | None, new: str | None, fires: bool) -> None:
    found = mutable_revisions(
        update(appset(CUSTOMER, revision=old), appset(CUSTOMER, revision=new))
    )
    shown = new if new is not None else "unset (HEAD)"
    assert found == ([f"{SOURCE}: {old} → {shown}"] if fires else [])


def test_a_new_app_at_a_mutable_revision_fires_and_a_deleted_one_does_not() -> None:
    assert mutable_revisions(change("create", None, appset(CUSTOMER, revision="HEAD"))) == [
        f"{SOURCE}: nothing → HEAD"
    ]
    assert mutable_revisions(change("delete", appset(CUSTOMER, revision="HEAD"), None)) == []


def test_multi_source_applications_pair_sources_by_repo_and_chart() -> None:
    def app(*sources: dict[str, Any]) -> dict[str, Any]:
        return {"spec": {"sources": list(sources), "destination": {"name": "a"}}}

    chart = {"repoURL": "https://charts", "chart": "loki", "targetRevision": "5.9.0"}
    values = {"repoURL": "https://git/values.git", "ref": "values", "targetRevision": "v1.0.0"}
    moved = {**values, "targetRevision": "main"}
    bumped = {**chart, "targetRevision": "6.0.1"}
    found = change("update", app(chart, values), app(values | moved, bumped), APPLICATION)
    assert mutable_revisions(found) == ["spec.sources[0].targetRevision: v1.0.0 → main"]
    assert chart_major_changes(found) == ["spec.sources[1].targetRevision: 5.9.0 → 6.0.1"]


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        ("1.4.2", "2.0.0", True),
        ("v2.0.0", "v1.9.9", True),  # a downgrade across majors too
        ("1.4.2", "1.5.0", False),
        ("1.4.2", "HEAD", False),  # not a version: gitops-mutable-revision says so
    ],
)
def test_chart_major_change(old: str, new: str, fires: bool) -> None:
    found = chart_major_changes(
        update(appset(CUSTOMER, revision=old), appset(CUSTOMER, revision=new))
    )
    assert found == ([f"{SOURCE}: {old} → {new}"] if fires else [])


def test_a_git_path_source_has_no_chart_version() -> None:
    def app(revision: str) -> dict[str, Any]:
        source = {"repoURL": "https://git/x.git", "path": "deploy", "targetRevision": revision}
        return {"spec": {"source": source, "destination": {"name": "a"}}}

    assert chart_major_changes(change("update", app("v1.0.0"), app("v2.0.0"), APPLICATION)) == []


# -- prune -------------------------------------------------------------------------------

PRUNE = "spec.template.spec.syncPolicy.automated.prune"


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        (None, {"prune": True, "selfHeal": True}, True),
        ({"selfHeal": True}, {"prune": True}, True),
        ({"prune": True, "enabled": False}, {"prune": True}, True),
        ({"prune": True}, {"prune": True, "selfHeal": True}, False),
        (None, {"prune": True, "enabled": False}, False),  # automated sync switched off
        ({"prune": True}, {"prune": False}, False),
        (None, {"prune": UNKNOWN_VALUE}, False),
    ],
)
def test_prune_switched_on(old: dict[str, Any] | None, new: dict[str, Any], fires: bool) -> None:
    found = prune_switched_on(
        update(appset(CUSTOMER, automated=old), appset(CUSTOMER, automated=new))
    )
    assert found == ([f"{PRUNE}: off → on"] if fires else [])


def test_prune_on_a_new_app_prunes_nothing_it_had() -> None:
    assert (
        prune_switched_on(change("create", None, appset(CUSTOMER, automated={"prune": True}))) == []
    )


# -- unknown values ----------------------------------------------------------------------


def test_an_unknown_selector_is_not_called_a_widening_or_a_removal_but_is_reported() -> None:
    unknown = appset({"matchLabels": {"cluster-type": UNKNOWN_VALUE}})
    found = update(appset(CUSTOMER), unknown)
    assert widened_targets(found) is None
    assert removed_targets(found) is None
    assert unknown_inputs(found) == [f'{SELECTOR}.matchLabels["cluster-type"]']


def test_unknown_revision_prune_and_whole_spec_are_reported() -> None:
    new = appset(CUSTOMER, revision=UNKNOWN_VALUE, automated={"prune": UNKNOWN_VALUE})
    assert unknown_inputs(update(appset(CUSTOMER), new)) == [SOURCE, PRUNE]
    whole = {**appset(CUSTOMER), "spec": UNKNOWN_VALUE}
    assert unknown_inputs(update(appset(CUSTOMER), whole)) == ["spec"]
    assert unknown_inputs(update(appset(CUSTOMER), appset(IDS_A))) == []


def test_other_types_are_not_read() -> None:
    deployment = ResourceChange(
        urn="urn:pulumi:prod::p::kubernetes:apps/v1:Deployment::d",
        type="kubernetes:apps/v1:Deployment",
        name="d",
        op="delete",
        ops=("delete",),
        old_inputs=appset(CUSTOMER, revision="HEAD"),
    )
    assert removed_targets(deployment) is None
    assert mutable_revisions(deployment) == unknown_inputs(deployment) == []


# -- through assess ----------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _assessed(stack: str, old: dict[str, Any], new: dict[str, Any], inventory: Any = None) -> Any:
    preview = preview_json(
        step(
            "update",
            APPLICATION_SET,
            "kps",
            stack=stack,
            old=old,
            new=new,
            detailed={"spec": "update"},
        ),
        change_summary={"update": 1},
    )
    changeset = parse_preview_json(preview, stack=stack)
    return assess(changeset, default_policy(), AssessmentContext(now=NOW, clusters=inventory))


def test_assess_names_the_count_when_it_has_an_inventory_and_says_unknown_without() -> None:
    old, new = appset(IDS_A), appset(CUSTOMER, automated={"prune": True})
    counted = _assessed("prod", old, new, INVENTORY)
    (widened,) = [f for f in counted.factors if f.rule == "gitops-targets-widened"]
    assert "1 registered cluster(s): cust-b" in widened.explanation
    assert widened.evidence[0].paths == (f"{SELECTOR}: cluster-id In [a] no longer required",)
    assert counted.level == "high"
    uncounted = _assessed("prod", old, new)
    (widened,) = [f for f in uncounted.factors if f.rule == "gitops-targets-widened"]
    assert "how many is unknown" in widened.explanation
    assert {f.rule for f in uncounted.factors} >= {"gitops-prune-enabled"}


def test_production_only_rules_do_not_fire_in_development() -> None:
    old, new = appset(CUSTOMER), appset(IDS_A, automated={"prune": True}, revision="2.0.0")
    rules = {f.rule for f in _assessed("dev", old, new).factors}
    assert "gitops-prune-enabled" not in rules
    assert "gitops-removed-from-clusters" not in rules
    assert "gitops-chart-major-change" in rules  # every tier
    prod = {f.rule for f in _assessed("prod", copy.deepcopy(old), new).factors}
    assert {"gitops-prune-enabled", "gitops-removed-from-clusters"} <= prod


# -- the example previews ----------------------------------------------------------------

EXAMPLES = sorted((REPO_ROOT / "examples" / "previews").glob("gitops-*.json"))
CRD_FILES = {
    APPLICATION: "argoproj.io_applications.yaml",
    APPLICATION_SET: "argoproj.io_applicationsets.yaml",
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_gitops_examples_declare_resources_argo_cd_accepts(path: Path) -> None:
    """Every Application and ApplicationSet in the examples (old and new, unknown values
    aside) validates strictly against the upstream Argo CD CRD."""
    checked = 0
    for raw in json.loads(path.read_text("utf-8"))["steps"]:
        for key in ("oldState", "newState"):
            resource = raw.get(key)
            if resource and resource["type"] in CRD_FILES:
                problems = crd_problems(resource["inputs"], CRD_FILES[resource["type"]])
                assert [p for p in problems if UNKNOWN_VALUE not in p] == [], key
                checked += 1
    assert checked


# -- points grow with the clusters reached -----------------------------------------------


def _widened_points(inventory: Any, old: dict[str, Any], new: dict[str, Any]) -> int:
    factors = _assessed("prod", old, new, inventory).factors
    (widened,) = [f for f in factors if f.rule == "gitops-targets-widened"]
    return int(widened.points)


def _customers(count: int) -> ClusterInventory:
    return ClusterInventory(
        tuple(
            RegisteredCluster(
                f"cust-{i}", f"https://{i}", {"cluster-type": "customer", "cluster-id": f"{i}"}
            )
            for i in range(count)
        )
    )


@pytest.mark.parametrize(("newly", "points"), [(1, 20), (2, 25), (4, 35), (5, 40), (30, 40)])
def test_widening_scores_five_more_per_newly_reached_cluster_up_to_forty(
    newly: int, points: int
) -> None:
    # Only cluster 0 matched before; the selector now takes every customer cluster.
    only_first = {"matchExpressions": [{"key": "cluster-id", "operator": "In", "values": ["0"]}]}
    assert _widened_points(_customers(newly + 1), appset(only_first), appset(CUSTOMER)) == points


def test_a_widening_of_unknown_size_scores_the_cap() -> None:
    assert _widened_points(None, appset(IDS_A), appset(CUSTOMER)) == 40


def test_points_per_cluster_needs_a_cap_at_least_the_base_points() -> None:
    from pydantic import ValidationError

    from change_mgmt.risk.policy import RuleSettings

    with pytest.raises(ValidationError, match="needs max_points"):
        RuleSettings(points=10, points_per_cluster=5)
    with pytest.raises(ValidationError, match="at least points"):
        RuleSettings(points=10, points_per_cluster=5, max_points=5)
    plain = RuleSettings(points=10)
    assert plain.cluster_points(None) == plain.cluster_points(50) == 10
