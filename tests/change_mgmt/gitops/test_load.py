"""Every kind of problem in the GitOps files, each at file:line:column: field."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.gitops.errors import GitOpsError
from change_mgmt.gitops.sources import validate_paths
from tests.change_mgmt.gitops.gitops_files import edit, gitops_copy, loaded, problems

PROD_APPS = "apps/prod.yaml"
PROD_CLUSTERS = "clusters/prod.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return gitops_copy(tmp_path)


def line_of(root: Path, name: str, text: str, occurrence: int = 1) -> int:
    lines = (root / "gitops" / name).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if text in line]
    return found[occurrence - 1]


def test_the_shipped_files_are_valid(root: Path) -> None:
    assert problems(root) == []


def test_an_unknown_key_suggests_the_known_one(root: Path) -> None:
    edit(root, PROD_APPS, "    namespace: prometheus", "    namespce: prometheus")
    line = line_of(root, PROD_APPS, "namespce:")
    assert problems(root, PROD_APPS) == [
        f"gitops/apps/prod.yaml:{line_of(root, PROD_APPS, '- name: kube-prometheus-stack')}:5: "
        "applications[0].namespace: required field is missing",
        f"gitops/apps/prod.yaml:{line}:5: applications[0].namespce: "
        "unknown field; did you mean 'namespace'?",
    ]


def test_an_unknown_key_in_a_selector_and_sync_policy(root: Path) -> None:
    edit(root, PROD_APPS, "      matchLabels:", "      matchLabel:")
    edit(root, PROD_APPS, "      selfHeal: true", "      selfheal: true")
    found = problems(root, PROD_APPS)
    assert f"gitops/apps/prod.yaml:{line_of(root, PROD_APPS, 'matchLabel:')}:7: " in found[0]
    assert found[0].endswith(
        "applications[0].clusterSelector.matchLabel: unknown field; did you mean 'matchLabels'?"
    )
    assert any(
        p.endswith("applications[0].syncPolicy.selfheal: unknown field; did you mean 'selfHeal'?")
        for p in found
    )


def test_duplicate_names(root: Path) -> None:
    edit(root, PROD_APPS, "  - name: alloy", "  - name: kube-prometheus-stack")
    edit(root, PROD_CLUSTERS, "  - name: cnc-prod-dr", "  - name: cnc-prod")
    first_app = line_of(root, PROD_APPS, "- name: kube-prometheus-stack")
    second_app = line_of(root, PROD_APPS, "- name: kube-prometheus-stack", 2)
    found = problems(root, PROD_APPS)
    assert (
        f"gitops/apps/prod.yaml:{second_app}:11: applications[1].name: duplicate application "
        f"'kube-prometheus-stack' (first on line {first_app})"
    ) in found
    second_cluster = line_of(root, PROD_CLUSTERS, "- name: cnc-prod", 2)
    assert (
        f"gitops/clusters/prod.yaml:{second_cluster}:11: clusters[1].name: duplicate cluster "
        f"'cnc-prod' (first on line {line_of(root, PROD_CLUSTERS, '- name: cnc-prod')})"
    ) in found


def test_a_selector_that_matches_no_cluster(root: Path) -> None:
    edit(root, PROD_APPS, "cluster-type: customer", "cluster-type: edge")
    assert problems(root, PROD_APPS) == [
        f"gitops/apps/prod.yaml:{line_of(root, PROD_APPS, 'matchLabels:')}:7: "
        "applications[0].clusterSelector: matches none of the 4 cluster(s) of prod"
    ]


@pytest.mark.parametrize("revision", ["HEAD", "main", "master", "v1.2", "abc1234", "'1.2.*'"])
@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_mutable_revisions_are_errors_where_exact_ones_are_required(
    root: Path, environment: str, revision: str
) -> None:
    name = f"apps/{environment}.yaml"
    edit(root, name, "revision: 0.10.1", f"revision: {revision}")
    (problem,) = problems(root, name)
    line = line_of(root, name, f"revision: {revision}")
    assert problem.startswith(f"gitops/{name}:{line}:15: applications[1].revision: ")
    assert f"revision {revision.strip(chr(39))!r} is mutable" in problem
    assert f"({environment} requires exact revisions)" in problem


def test_mutable_revisions_are_warnings_in_dev(root: Path) -> None:
    edit(root, "apps/dev.yaml", "revision: 0.10.1", "revision: HEAD")
    assert problems(root, "apps/dev.yaml") == []
    warnings = [str(w) for w in loaded(root, "dev").warnings]
    line = line_of(root, "apps/dev.yaml", "revision: HEAD")
    (warning,) = [w for w in warnings if "'HEAD'" in w]
    assert warning.startswith(
        f"gitops/apps/dev.yaml:{line}:15: applications[1].revision: warning: revision 'HEAD' is mutable"
    )
    assert warning.endswith("(allowed in dev)")


def test_the_values_repository_revision_follows_the_same_rule(root: Path) -> None:
    edit(root, PROD_APPS, "revision: 0123456789abcdef0123456789abcdef01234567", "revision: main")
    (problem,) = problems(root, PROD_APPS)
    line = line_of(root, PROD_APPS, "  revision: main")
    assert problem.startswith(
        f"gitops/apps/prod.yaml:{line}:13: valuesRepo.revision: revision 'main' is mutable"
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "cluster-id: cnc-prod\n",
            "cluster-id: cnc-prod-2\n",
            "clusters[0].labels.cluster-id",
            "is 'cnc-prod-2' but must be the cluster's name, 'cnc-prod'",
        ),
        (
            "cluster-type: cnc\n",
            "cluster-type: customer\n",
            "clusters[0].labels.cluster-type",
            "is 'customer' but must be the cluster's type, 'cnc'",
        ),
        (
            "      cluster-type: cnc\n",
            "",
            "clusters[0].labels",
            "labels must include cluster-type: cnc",
        ),
        (
            "region: us-east-1",
            "kubernetes.io/region: us-east-1",
            "clusters[0].labels.kubernetes.io/region",
            "invalid key: the prefix kubernetes.io/ is reserved for Kubernetes",
        ),
        (
            "region: us-east-1",
            "argocd.argoproj.io/secret-type: x",
            "clusters[0].labels.argocd.argoproj.io/secret-type",
            "invalid key: keys starting with argocd.argoproj.io/ are reserved for the platform",
        ),
        (
            "region: us-east-1",
            "region: us east",
            "clusters[0].labels.region",
            "is not a Kubernetes label value",
        ),
        (
            "server: https://cnc-prod.",
            "server: http://cnc-prod.",
            "clusters[0].server",
            "is not an https:// URL with a host",
        ),
        (
            "caData: LS0t",
            "caData: not-base64-LS0t",
            "clusters[0].caData",
            "is not base64 of PEM text",
        ),
        (
            "roleArn: arn:aws:iam::000000000000:role/",
            "roleArn: arn:aws:iam::0:role/",
            "clusters[0].roleArn",
            "is not an IAM role ARN",
        ),
        ("type: cnc\n", "type: edge\n", "clusters[0].type", "Input should be 'cnc' or 'customer'"),
        ("  - name: cnc-prod\n", "  - name: CNC_prod\n", "clusters[0].name", "must be a DNS label"),
    ],
)
def test_cluster_problems(root: Path, old: str, new: str, field: str, message: str) -> None:
    edit(root, PROD_CLUSTERS, old, new)
    found = problems(root, PROD_CLUSTERS)
    assert len(found) == 1, found
    assert f": {field}: " in found[0] and message in found[0], found[0]
    assert found[0].startswith("gitops/clusters/prod.yaml:")


def test_ca_data_that_decodes_to_no_certificate(root: Path) -> None:
    path = root / "gitops" / PROD_CLUSTERS
    lines = path.read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("    caData: "))
    lines[first] = "    caData: aGVsbG8K\n"  # base64 of "hello\n"
    path.write_text("".join(lines))
    found = problems(root, PROD_CLUSTERS)
    assert any("clusters[0].caData: decodes to no PEM certificate" in p for p in found), found


@pytest.mark.parametrize("key", ["bearerToken", "token", "password", "keyData", "config"])
def test_static_credentials_are_refused(root: Path, key: str) -> None:
    value = "{bearerToken: abc}" if key == "config" else "abc"
    edit(
        root,
        PROD_CLUSTERS,
        "    eksClusterName: cnc-prod\n",
        f"    eksClusterName: cnc-prod\n    {key}: {value}\n",
    )
    found = problems(root, PROD_CLUSTERS)
    field = "clusters[0].config.bearerToken" if key == "config" else f"clusters[0].{key}"
    line = line_of(root, PROD_CLUSTERS, f"    {key}: ")
    column = 14 if key == "config" else 5
    if key == "config":  # config itself is no field of ours either
        assert found[0].endswith(
            "clusters[0].config: unknown field; allowed fields are caData, eksClusterName, labels, "
            "name, roleArn, server, type"
        )
    assert found[-1] == (
        f"gitops/clusters/prod.yaml:{line}:{column}: {field}: static credentials are refused: "
        "Argo CD assumes the cluster's roleArn (awsAuthConfig); remove this key"
    )


def test_app_problems(root: Path) -> None:
    edit(root, PROD_APPS, "    chart: alloy\n", "    chart: alloy\n    path: charts/alloy\n")
    edit(root, PROD_APPS, "      prune: false", "      prune: true", 2)
    edit(
        root,
        PROD_APPS,
        "      automated: true\n      prune: true",
        "      automated: false\n      prune: true",
    )
    edit(
        root,
        PROD_APPS,
        "repoURL: https://kubernetes.github.io",
        "repoURL: git@github.com:kubernetes",
    )
    found = problems(root, PROD_APPS)
    assert any("applications[1]: give exactly one of chart" in p for p in found), found
    assert any(
        "applications[0].syncPolicy: prune and selfHeal act only on automated sync" in p
        for p in found
    )
    assert any("applications[2].repoURL: 'git@github.com:kubernetes" in p for p in found)


def test_chart_value_files_need_the_values_repository(root: Path) -> None:
    text = (root / "gitops" / PROD_APPS).read_text()
    start = text.index("valuesRepo:")
    (root / "gitops" / PROD_APPS).write_text(text[:start] + text[text.index("applications:") :])
    found = problems(root, PROD_APPS)
    assert [p.split(": ", 2)[1] for p in found] == [
        "applications[0].valueFiles",
        "applications[1].valueFiles",
    ]
    assert "a chart's valueFiles are read from valuesRepo" in found[0]


def test_an_application_name_too_long_for_argocd(root: Path) -> None:
    edit(root, PROD_APPS, "  - name: alloy", "  - name: " + "a" * 40)
    (problem,) = problems(root, PROD_APPS)
    assert ": applications[1].name: the Application name " in problem
    assert "at most 63" in problem


def test_both_files_report_together(root: Path) -> None:
    edit(root, PROD_APPS, "    namespace: velero", "    namespace: Velero")
    edit(root, PROD_CLUSTERS, "region: us-west-2", "region: us west")
    found = problems(root)
    assert [p.split(":")[0] for p in found] == [
        "gitops/apps/prod.yaml",
        "gitops/clusters/prod.yaml",
    ]


def test_a_file_outside_clusters_or_apps_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prod.yaml").write_text("clusters: []\n")
    with pytest.raises(GitOpsError, match="cannot tell a clusters file from an apps file"):
        validate_paths([tmp_path / "prod.yaml"], relative_to=tmp_path)


def test_apps_without_clusters_are_refused(root: Path) -> None:
    (root / "gitops" / PROD_CLUSTERS).unlink()
    with pytest.raises(GitOpsError, match="no clusters file for environment 'prod'"):
        validate_paths([root / "gitops" / PROD_APPS], relative_to=root)
