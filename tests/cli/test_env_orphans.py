"""``sre env orphans`` in a subprocess against moto's server on loopback: the real AWS
HTTP protocol, fake credentials only through the environment."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from rich.cells import cell_len
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.change_mgmt.orphans.planting import FAKE_CREDENTIALS, HOME, OTHER, Planted, plant
from tests.conftest import REPO_ROOT

NOW = datetime.now(UTC).replace(microsecond=0)
DOC = (REPO_ROOT / "docs" / "cost.md").read_text("utf-8")
NO_FILES = {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def planted(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Planted:
    reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    for key, value in {**FAKE_CREDENTIALS, **NO_FILES, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    return plant(boto3.client, tmp_path / "project", NOW)


def sre(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "change_mgmt.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**base, "COLUMNS": "80", "NO_COLOR": "1", **NO_FILES, **env},
    )


def aws_env(endpoint: str) -> dict[str, str]:
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


def test_json_lists_exactly_the_planted_orphans_with_documented_keys(
    planted: Planted, endpoint: str
) -> None:
    result = sre(
        "env",
        "orphans",
        "--region",
        HOME,
        "--region",
        OTHER,
        "--format",
        "json",
        "--project-dir",
        str(planted.project),
        env=aws_env(endpoint),
    )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == "sre-platform/env-orphans/v1"
    assert {o["arn"]: o["reason"] for o in document["orphans"]} == planted.orphans
    assert {u["arn"] for u in document["undetermined"]} == planted.undetermined
    assert document["regions"] == [HOME, OTHER]
    for key in (*document, *document["orphans"][0], *document["undetermined"][0]):
        assert f"`{key}`" in DOC, f"key {key} is not documented in docs/cost.md"
    wastes = {o["id"]: o["monthly_waste"] for o in document["orphans"]}
    assert wastes["gone-env-events"] is None  # no price: unknown, never 0
    assert all(isinstance(w, float) and w > 0 for k, w in wastes.items() if k != "gone-env-events")
    assert document["monthly_waste_known"] == round(sum(w or 0 for w in wastes.values()), 2)


def test_text_fits_80_columns_and_names_every_orphan(planted: Planted, endpoint: str) -> None:
    result = sre("env", "orphans", "--project-dir", str(planted.project), env=aws_env(endpoint))
    # No --region: the configured one (Pulumi.yaml's aws:region, us-east-1) only.
    assert result.returncode == 1, result.stderr
    assert max(cell_len(line.rstrip()) for line in result.stdout.splitlines()) <= 80
    for name in ("old-env-files", "mm-old-env", "hostile-files"):
        assert name in result.stdout
    for name in ("gone-env-files", "mm-gone-env", "active-env-files", "cloud-dev-prometheus"):
        assert name not in result.stdout
    assert "unknown" not in result.stdout.split("estimated waste")[0]
    assert "estimated waste: USD" in result.stdout
    assert "undetermined: arn:aws:s3:::broken-env-files" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_region_with_nothing_tagged_exits_0(planted: Planted, endpoint: str) -> None:
    result = sre(
        "env",
        "orphans",
        "--region",
        "ap-southeast-2",
        "--project-dir",
        str(planted.project),
        env=aws_env(endpoint),
    )
    assert result.returncode == 0, result.stderr
    assert "0 resources tagged managed-by=sre-platform in ap-southeast-2" in result.stdout


def test_no_credentials_is_a_clear_message_and_exit_1(planted: Planted, endpoint: str) -> None:
    result = sre(
        "env",
        "orphans",
        "--project-dir",
        str(planted.project),
        env={"AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith("error: AWS in us-east-1: Unable to locate credentials")
    assert "Traceback" not in result.stderr


def test_an_unreachable_endpoint_is_a_clear_message_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "stacks" / "environments").mkdir(parents=True)
    result = sre(
        "env",
        "orphans",
        "--project-dir",
        str(tmp_path),
        "--region",
        HOME,
        env={**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
    )
    assert result.returncode == 1
    assert "error: AWS in us-east-1: Could not connect to the endpoint URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_region_is_invalid_input() -> None:
    result = CliRunner().invoke(app, ["env", "orphans", "--region", "mars-1"])
    assert result.exit_code == 2
    assert "'mars-1' is not an AWS region name" in result.stderr
