"""``sre stack render``: the platform stacks at 80 columns, as text and as JSON."""

from __future__ import annotations

import json
import re

from rich.cells import cell_len
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import REPO_ROOT

runner = CliRunner()
DOC = (REPO_ROOT / "docs" / "platform.md").read_text("utf-8")


def sre(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1"}, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_render_prod_text_fits_80_columns_and_shows_the_platform() -> None:
    code, stdout, _ = sre("stack", "render", "prod", "--project-dir", str(REPO_ROOT))
    assert code == 0, stdout
    assert max(cell_len(line.rstrip()) for line in stdout.splitlines()) <= 80
    for expected in (
        "observability-prod",
        "monitoring-cnc-prod",
        "monitoring-customer-prod-1",
        "slo-rules-customer-prod-1",
        "gitops-prod",
        "gitops-prod-argo-cd",
        "gitops-prod-cluster-customer-prod-2",
        "estimated cost: USD",
        "✓ prod (production, Pulumi.prod.yaml): 0 mandatory",
    ):
        assert expected in stdout
    assert re.search(r"\d+ resources, \d+ protected", stdout)


def test_render_json_lists_options_and_redacts_secrets() -> None:
    code, stdout, _ = sre(
        "stack", "render", "prod", "--format", "json", "--project-dir", str(REPO_ROOT)
    )
    assert code == 0
    document = json.loads(stdout)
    assert "render-placeholder" not in stdout
    for key in document:
        assert f"`{key}`" in DOC, f"top-level key {key} is not documented in docs/platform.md"
    resources = document["resources"]
    for key in resources[0]:
        assert f"`{key}`" in DOC, f"resource key {key} is not documented"
    by_name = {r["name"]: r for r in resources}
    bucket = by_name["observability-prod-metrics"]
    assert bucket["protect"] is True and bucket["provider"].endswith("::aws-prod")
    secret = by_name["observability-prod-grafana-admin"]
    assert "[secret]" in json.dumps(secret["inputs"])
    policy = by_name["monitoring-cnc-prod-kube-prometheus-stack"]
    assert any(urn.endswith("::monitoring-cnc-prod-thanos") for urn in policy["dependsOn"])
    oidc = by_name["gitops-prod-oidc"]
    assert "[secret]" in json.dumps(oidc["inputs"])
    assert oidc["provider"].endswith("::k8s-cnc-prod")
    assert document["cost"]["monthly_total"] > 0


def test_render_of_a_stack_that_is_not_a_platform_stack_is_invalid_input() -> None:
    code, _, stderr = sre("stack", "render", "qa", "--project-dir", str(REPO_ROOT))
    assert code == 2 and "not a platform stack" in stderr


def test_env_render_json_has_the_same_resource_keys() -> None:
    code, stdout, _ = sre(
        "env", "render", "pg-migration-1000", "--format", "json", "--project-dir", str(REPO_ROOT)
    )
    assert code == 0
    resource = json.loads(stdout)["resources"][0]
    assert {"protect", "provider", "dependsOn", "urn", "parent"} <= set(resource)
