"""``sre gate`` processes archiving evidence in S3 over HTTP (moto in server mode on
loopback), and ``sre changes show --evidence --fetch`` reading it back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from change_mgmt.ledger.records import ApprovalDecision, ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.evidence.s3 import (
    AMBIENT,
    BUCKET,
    FAKE_CREDENTIALS,
    REGION,
    all_objects,
    make_bucket,
    moto_server,
)
from tests.change_mgmt.preview.builders import preview_json, step
from tests.cli.test_gate_command import SG_OPEN
from tests.conftest import REPO_ROOT, git, open_change_window
from tests.fakes.pulumi_cli import install_fake_pulumi, with_policy_pack

pytestmark = pytest.mark.slow
PASSWORD = "Db-pa55word-never-archived"
ACCESS_KEY = "AKIAQWERTYUIOPASDFGH"
DB_WITH_SECRETS = step(
    "create",
    "aws:rds/instance:Instance",
    "db",
    new={"password": PASSWORD, "instanceClass": "db.t4g.micro", "tags": {"note": ACCESS_KEY}},
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def s3(endpoint: str) -> Iterator[Any]:
    """A fresh versioned bucket on the module's moto server."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    make_bucket(client)
    yield client
    listing = client.list_object_versions(Bucket=BUCKET)
    for version in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
        client.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def project(git_project) -> Path:
    root = git_project()
    shutil.copytree(REPO_ROOT / "slos", root / "slos")
    git(root, "add", "slos")
    git(root, "commit", "-q", "-m", "slos")
    open_change_window(root)
    return root


def _env(endpoint: str, url: str | None = f"s3://{BUCKET}/gates?region={REGION}") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AMBIENT}
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = endpoint
    env["PYTHONPATH"] = str(REPO_ROOT)
    if url is not None:
        env["SRE_EVIDENCE_URL"] = url
    return env


def _sre(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "change_mgmt.cli", *args, "--project-dir", str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _gate(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return _sre(project, env, "gate", "--stack", "prod", "--format", "json", *args)


def _preview(tmp_path: Path, *steps: dict[str, Any]) -> str:
    path = tmp_path / "preview.json"
    path.write_text(preview_json(*steps))
    return str(path)


def _key(uri: str) -> str:
    assert uri.startswith(f"s3://{BUCKET}/")
    return uri.removeprefix(f"s3://{BUCKET}/")


def test_a_gate_run_archives_its_documents_and_the_record_names_them(
    project: Path, tmp_path: Path, endpoint: str, s3: Any
) -> None:
    preview = _preview(tmp_path, SG_OPEN, DB_WITH_SECRETS)
    result = _gate(project, _env(endpoint), "--preview", preview)
    assert result.returncode == 3, result.stderr  # high risk: approvals missing
    printed = json.loads(result.stdout)
    record = Ledger.for_repository(project).get(printed["change"]["id"])
    names = [uri.rsplit("/", 1)[1] for uri in record.evidence]
    assert names == ["preview.json", "gate-report.json"]  # --preview: no plan was saved
    run = record.evidence[0].split("/")[-2]
    assert record.evidence[0] == f"s3://{BUCKET}/gates/prod/{printed['digest']}/{run}/preview.json"
    stored = all_objects(s3)
    assert set(stored) == {_key(uri) for uri in record.evidence}
    report = json.loads(stored[_key(record.evidence[1])][0])
    assert report == printed  # the archived report is the printed one
    archived = json.loads(stored[_key(record.evidence[0])][0])
    assert archived["schema"] == "sre-platform/evidence-preview/v1"
    assert archived["digest"] == printed["digest"]
    (db,) = [c for c in archived["changes"] if c["name"] == "db"]
    assert db["new_inputs"]["password"] == "[secret]"
    everything = b"".join(body for bodies in stored.values() for body in bodies)
    assert PASSWORD.encode() not in everything and ACCESS_KEY.encode() not in everything


def test_a_second_run_of_one_change_writes_a_new_run_and_keeps_the_first(
    project: Path, tmp_path: Path, endpoint: str, s3: Any
) -> None:
    preview = _preview(tmp_path, SG_OPEN, DB_WITH_SECRETS)
    first = _gate(project, _env(endpoint), "--preview", preview)
    before = all_objects(s3)
    second = _gate(project, _env(endpoint), "--preview", preview)
    assert (first.returncode, second.returncode) == (3, 3), second.stderr
    change = json.loads(second.stdout)["change"]["id"]
    assert change == json.loads(first.stdout)["change"]["id"]
    evidence = Ledger.for_repository(project).get(change).evidence
    assert len(evidence) == 4 and len({uri.split("/")[-2] for uri in evidence}) == 2
    after = all_objects(s3)
    assert len(after) == 4 and all(len(bodies) == 1 for bodies in after.values())
    assert {key: after[key] for key in before} == before


def _approve(project: Path, digest: str) -> None:
    ledger = Ledger.for_repository(project)
    for approver in ("bob@example.com", "carol@example.com"):
        ledger.add_approval(
            "prod",
            digest,
            approver=approver,
            decision=ApprovalDecision.approve,
            reason="ok",
            now=datetime.now(UTC),
        )


@pytest.mark.parametrize(
    "url",
    [f"s3://no-such-evidence-bucket?region={REGION}", f"s3://{BUCKET}/gates?region={REGION}"],
    ids=["no-bucket", "access-denied"],
)
def test_evidence_that_cannot_be_archived_closes_an_otherwise_open_gate(
    project: Path, tmp_path: Path, endpoint: str, s3: Any, url: str
) -> None:
    preview = _preview(tmp_path, SG_OPEN)
    env = _env(endpoint, url)
    digest = json.loads(_gate(project, _env(endpoint, None), "--preview", preview).stdout)["digest"]
    _approve(project, digest)
    if "gates" in url:  # a bucket policy that refuses every write, as S3 does for a wrong role
        s3.put_bucket_policy(
            Bucket=BUCKET,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{BUCKET}/*",
                        }
                    ],
                }
            ),
        )
    closed = _gate(project, env, "--preview", preview)
    assert closed.returncode == 3, closed.stdout + closed.stderr
    reasons = json.loads(closed.stdout)["decision"]["reasons"]
    assert [r["code"] for r in reasons] == ["evidence-not-archived"]
    expected = ("NoSuchBucket",) if "no-such" in url else ("AccessDenied", "403")
    assert any(word in reasons[0]["message"] for word in expected), reasons
    record = Ledger.for_repository(project).find("prod", digest)
    assert record is not None and record.state == ChangeState.proposed and not record.evidence
    assert all_objects(s3) == {}
    s3.delete_bucket_policy(Bucket=BUCKET)
    opened = _gate(project, _env(endpoint), "--preview", preview)
    assert opened.returncode == 0, opened.stdout
    record = Ledger.for_repository(project).find("prod", digest)
    assert record is not None and record.state == ChangeState.approved
    assert len(record.evidence) == 2


def test_unset_means_no_archive_and_a_bad_url_is_bad_input(
    project: Path, tmp_path: Path, endpoint: str, s3: Any
) -> None:
    preview = _preview(tmp_path, SG_OPEN)
    unset = _gate(project, _env(endpoint, None), "--preview", preview)
    assert unset.returncode == 3 and all_objects(s3) == {}
    assert Ledger.for_repository(project).get(1).evidence == ()
    bad = _gate(project, _env(endpoint, f"https://{BUCKET}"), "--preview", preview)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "SRE_EVIDENCE_URL" in bad.stdout + bad.stderr


def test_the_gates_own_preview_archives_its_plan_too(
    project: Path, tmp_path: Path, endpoint: str, s3: Any
) -> None:
    project = with_policy_pack(project)
    bin_dir = tmp_path / "bin"
    events = tmp_path / "events.jsonl"
    events.write_text(  # a preview's event log ends with the engine's cancel event
        json.dumps({"sequence": 1, "timestamp": 1, "summaryEvent": {"resourceChanges": {}}})
        + "\n"
        + json.dumps({"sequence": 2, "timestamp": 2, "cancelEvent": {}})
        + "\n"
    )
    install_fake_pulumi(
        bin_dir, stdout=REPO_ROOT / "examples" / "previews" / "routine-rollout.json", events=events
    )
    env = {
        **_env(endpoint),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
    }
    result = _sre(project, env, "gate", "--stack", "acme/prod", "--format", "json")
    assert result.returncode in {0, 3}, result.stdout + result.stderr
    printed = json.loads(result.stdout)
    assert printed["change"]["plan"], printed["decision"]
    evidence = Ledger.for_repository(project).get(printed["change"]["id"]).evidence
    assert [uri.rsplit("/", 1)[1] for uri in evidence] == [
        "preview.json",
        "plan.json",
        "gate-report.json",
    ]
    plan = json.loads(all_objects(s3)[_key(evidence[1])][0])
    assert plan["schema"] == "sre-platform/evidence-plan/v1"
    saved = Path(printed["change"]["plan"])
    assert plan["source_sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()


def test_changes_show_lists_and_fetches_the_evidence_never_overwriting(
    project: Path, tmp_path: Path, endpoint: str, s3: Any
) -> None:
    preview = _preview(tmp_path, SG_OPEN, DB_WITH_SECRETS)
    gated = json.loads(_gate(project, _env(endpoint), "--preview", preview).stdout)
    change = str(gated["change"]["id"])
    env = _env(endpoint)
    listed = _sre(project, env, "changes", "show", change, "--evidence", "--format", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    documents = json.loads(listed.stdout)["evidence_documents"]
    assert [d["exists"] for d in documents] == [True, True]
    assert all(d["size"] > 0 and d["version_id"] for d in documents)
    out = tmp_path / "fetched"
    fetched = _sre(project, env, "changes", "show", change, "--fetch", str(out))
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    run = documents[0]["uri"].split("/")[-2]
    assert json.loads((out / run / "gate-report.json").read_text()) == gated
    assert json.loads((out / run / "preview.json").read_text())["digest"] == gated["digest"]
    again = _sre(project, env, "changes", "show", change, "--fetch", str(out))
    assert again.returncode == 1 and "never overwrites" in again.stdout + again.stderr
    s3.delete_object(Bucket=BUCKET, Key=_key(documents[1]["uri"]))
    missing = _sre(project, env, "changes", "show", change, "--evidence")
    assert missing.returncode == 1
    assert "MISSING" in missing.stdout
    assert "1 archived document(s) are missing" in missing.stderr


def test_the_base_branchs_evidence_yaml_holds_when_the_change_deletes_it(
    project: Path, tmp_path: Path, endpoint: str, s3: Any
) -> None:
    (project / "evidence.yaml").write_text(f"url: s3://{BUCKET}/from-base?region={REGION}\n")
    git(project, "add", "evidence.yaml")
    git(project, "commit", "-q", "-m", "archive evidence")
    git(project, "branch", "base")
    git(project, "rm", "-q", "evidence.yaml")
    git(project, "commit", "-q", "-m", "switch the archive off")
    preview = _preview(tmp_path, SG_OPEN)
    result = _gate(project, _env(endpoint, url=None), "--preview", preview, "--base-ref", "base")
    assert result.returncode in (0, 3), result.stderr
    record = Ledger.for_repository(project).get(json.loads(result.stdout)["change"]["id"])
    assert record.evidence and all("/from-base/" in uri for uri in record.evidence)
    assert set(all_objects(s3)) == {_key(uri) for uri in record.evidence}
    # Without a base the working tree is the truth: nothing is archived.
    laptop = _gate(
        project, _env(endpoint, url=None), "--preview", _preview(tmp_path, DB_WITH_SECRETS)
    )
    assert laptop.returncode in (0, 3), laptop.stderr
    assert (
        not Ledger.for_repository(project).get(json.loads(laptop.stdout)["change"]["id"]).evidence
    )
