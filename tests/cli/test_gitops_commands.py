"""``sre gitops validate | render | diff`` end to end, on the shipped data and bad copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rich.cells import cell_len
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import REPO_ROOT, git

runner = CliRunner()


def sre(*args: str | Path, columns: int = 80) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})
    assert not result.exception or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "gitops", root / "gitops")
    (root / "Pulumi.yaml").write_text("name: test\n")
    return root


def test_validate_passes_on_the_repository_with_the_dev_warning() -> None:
    code, stdout, _ = sre("gitops", "validate", "--project-dir", REPO_ROOT, columns=250)
    assert code == 0, stdout
    assert "✓ prod: 4 cluster(s), 5 application(s), 14 Application(s) generated" in stdout
    lines = (REPO_ROOT / "gitops/apps/dev.yaml").read_text().splitlines()
    (line,) = [
        n for n, text in enumerate(lines, 1) if text.split("#")[0].strip() == "revision: main"
    ]
    assert (
        f"gitops/apps/dev.yaml:{line}:13: valuesRepo.revision: warning: revision 'main'" in stdout
    )


def test_validate_prints_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    root = project(tmp_path)
    apps = root / "gitops" / "apps" / "prod.yaml"
    apps.write_text(
        apps.read_text()
        .replace("repoURL: https://kubernetes.github", "repoURL: http://kubernetes.github")
        .replace("    namespace: velero", "    namespce: velero")
    )
    code, stdout, stderr = sre("gitops", "validate", "--project-dir", root, columns=250)
    assert code == 2
    lines = stdout.splitlines()
    assert len(lines) == 3, lines
    assert (
        lines[0].startswith("gitops/apps/prod.yaml:")
        and "applications[2].repoURL: 'http://kubernetes.github.io/ingress-nginx' is not an https:// URL"
        in lines[0]
    )
    assert "applications[3].namespace: required field is missing" in lines[1]
    assert "applications[3].namespce: unknown field; did you mean 'namespace'?" in lines[2]
    assert "Traceback" not in stdout + stderr


def test_validate_refuses_broken_yaml_and_missing_paths(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "gitops" / "clusters" / "prod.yaml").write_text("clusters: [\n")
    code, stdout, _ = sre(
        "gitops", "validate", root / "gitops" / "clusters" / "prod.yaml", "--project-dir", root
    )
    assert code == 2 and stdout.startswith(
        "gitops/clusters/prod.yaml:2:1: (document): not valid YAML"
    )
    code, _, stderr = sre("gitops", "validate", tmp_path / "nope.yaml")
    assert code == 2 and "no such file or directory" in stderr


def test_render_text_fits_80_columns() -> None:
    code, stdout, _ = sre("gitops", "render", "prod", "--project-dir", REPO_ROOT)
    assert code == 0
    assert stdout.splitlines()[0] == "prod: 5 application(s) × 4 cluster(s) → 14 Application(s)"
    assert all(cell_len(line) <= 80 for line in stdout.splitlines())
    rows = [line.split("│")[1:5] for line in stdout.splitlines() if line.startswith("│")]
    assert [c.strip() for c in rows[0]] == ["alloy", "customer-prod-1", "0.10.1", "prometheus"]
    assert len(rows) == 14


def test_render_json_is_the_generated_applications() -> None:
    code, stdout, _ = sre(
        "gitops", "render", "staging", "--format", "json", "--project-dir", REPO_ROOT
    )
    assert code == 0
    document = json.loads(stdout)
    assert document["schema"] == "sre-platform/gitops-render/v1"
    names = [a["metadata"]["name"] for a in document["applications"]]
    assert names == sorted(names) and len(names) == 7
    assert "velero-sre-staging-customer-staging-1" in names
    assert {a["kind"] for a in document["applications"]} == {"Application"}


def test_render_an_unknown_environment_exits_2() -> None:
    code, _, stderr = sre("gitops", "render", "qa", "--project-dir", REPO_ROOT)
    assert code == 2 and "no GitOps files for environment 'qa'" in stderr


def test_diff_against_the_base_branch_in_a_real_repository(tmp_path: Path) -> None:
    root = project(tmp_path)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    clusters = root / "gitops" / "clusters" / "prod.yaml"
    text = clusters.read_text()
    start = text.index("  # registered with Argo CD only: not (yet)")
    clusters.write_text(text[:start])  # customer-prod-2 leaves
    apps = root / "gitops" / "apps" / "prod.yaml"
    apps.write_text(apps.read_text().replace("revision: 7.2.1", "revision: 8.0.0"))
    code, stdout, stderr = sre(
        "gitops", "diff", "prod", "--base", "main", "--project-dir", root, columns=200
    )
    assert code == 0, stdout + stderr
    lines = stdout.splitlines()
    assert lines[0] == "prod: main → working tree"
    assert "- velero → customer-prod-2 (was at 7.2.1)" in lines
    assert "~ velero → customer-prod-1: revision 7.2.1 → 8.0.0" in lines
    assert lines[-1] == "0 added, 5 removed, 1 changed"
    code, stdout, _ = sre(
        "gitops", "diff", "prod", "--base", "main", "-f", "json", "--project-dir", root
    )
    document = json.loads(stdout)
    assert [p["application"] for p in document["removed"]] == [
        f"{app}-sre-prod-customer-prod-2"
        for app in ("alloy", "ingress-nginx", "kube-prometheus-stack", "metrics-server", "velero")
    ]
    assert document["changed"][0]["head"]["revision"] == "8.0.0"


def test_diff_refuses_a_tag_and_reports_a_bad_base_file(tmp_path: Path) -> None:
    root = project(tmp_path)
    apps = root / "gitops" / "apps" / "prod.yaml"
    good = apps.read_text()
    apps.write_text(good.replace("revision: 7.2.1", "revision: main"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "v1")
    apps.write_text(good)
    code, _, stderr = sre("gitops", "diff", "prod", "--base", "v1", "--project-dir", root)
    assert code == 2 and "v1" in stderr and "Traceback" not in stderr
    code, stdout, _ = sre(
        "gitops", "diff", "prod", "--base", "main", "--project-dir", root, columns=250
    )
    assert code == 2
    assert stdout.startswith("main:gitops/apps/prod.yaml:")
    assert "revision 'main' is mutable" in stdout


def test_diff_from_a_base_without_the_environment_adds_everything(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pulumi.yaml").write_text("name: test\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    shutil.copytree(REPO_ROOT / "gitops", root / "gitops")
    code, stdout, _ = sre(
        "gitops", "diff", "staging", "--base", "main", "--project-dir", root, columns=200
    )
    assert code == 0 and stdout.splitlines()[-1] == "7 added, 0 removed, 0 changed"
