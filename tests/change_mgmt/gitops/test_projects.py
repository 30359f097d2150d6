"""``projects:`` of gitops/apps/<env>.yaml: the cluster-scoped kinds an AppProject allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.change_mgmt.gitops.gitops_files import edit, gitops_copy, loaded, problems

PROD_APPS = "apps/prod.yaml"
FIRST_KIND = "      - {group: apiextensions.k8s.io, kind: CustomResourceDefinition}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return gitops_copy(tmp_path)


def line_of(root: Path, text: str) -> int:
    lines = (root / "gitops" / PROD_APPS).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def test_the_shipped_projects_are_read_without_wildcards(root: Path) -> None:
    environment = loaded(root, "prod")
    (sre,) = environment.projects
    assert sre.name == "sre"
    kinds = {(k.group, k.kind) for k in sre.clusterResources}
    assert ("apiextensions.k8s.io", "CustomResourceDefinition") in kinds
    assert ("rbac.authorization.k8s.io", "ClusterRole") in kinds
    assert not any(k.wildcard for k in sre.clusterResources)
    assert environment.warnings == ()


def test_a_wildcard_is_accepted_only_as_written_and_warned(root: Path) -> None:
    edit(root, PROD_APPS, FIRST_KIND, '      - {group: "*", kind: "*"}')
    environment = loaded(root, "prod")
    (warning,) = environment.warnings
    line = line_of(root, 'kind: "*"')
    assert str(warning).startswith(f"gitops/apps/prod.yaml:{line}:9: ")
    assert "projects[0].clusterResources[0]: warning: */* lets" in str(warning)


@pytest.mark.parametrize(
    ("new", "field", "message"),
    [
        (
            "      - {group: apiextensions.k8s.io, kind: customResourceDefinition}",
            "projects[0].clusterResources[0].kind",
            "is not a kind",
        ),
        (
            "      - {group: API.example.com, kind: Thing}",
            "projects[0].clusterResources[0].group",
            "is not an API group",
        ),
        (
            "      - {group: apiextensions.k8s.io, knd: CustomResourceDefinition}",
            "projects[0].clusterResources[0].knd",
            "did you mean 'kind'?",
        ),
    ],
)
def test_a_bad_kind_is_one_clear_error(root: Path, new: str, field: str, message: str) -> None:
    edit(root, PROD_APPS, FIRST_KIND, new)
    found = [p for p in problems(root, PROD_APPS) if f": {field}:" in p]
    assert len(found) == 1, problems(root, PROD_APPS)
    assert found[0].startswith(f"gitops/apps/prod.yaml:{line_of(root, new.strip()[:20])}:")
    assert message in found[0]


def test_a_project_no_application_names_is_an_error(root: Path) -> None:
    edit(root, PROD_APPS, "  - name: sre\n", "  - name: sre-typo\n")
    (found,) = problems(root, PROD_APPS)
    assert found == (
        f"gitops/apps/prod.yaml:{line_of(root, '- name: sre-typo')}:11: "
        "projects[0].name: no application names project 'sre-typo'"
    )


def test_reserved_and_duplicate_projects_are_errors(root: Path) -> None:
    edit(root, PROD_APPS, "    project: sre\n", "    project: default\n")
    found = problems(root, PROD_APPS)
    assert any(
        p.endswith("applications[0].project: 'default' is reserved (bootstrap, default)")
        for p in found
    ), found
    text = (root / "gitops" / PROD_APPS).read_text()
    start = text.index("  - name: sre\n")
    end = text.index("applications:\n")
    duplicated = text[:end] + text[start:end] + text[end:]
    (root / "gitops" / PROD_APPS).write_text(duplicated)
    assert any("projects[1].name: duplicate project 'sre'" in p for p in problems(root, PROD_APPS))
