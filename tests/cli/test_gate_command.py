"""``sre gate`` end to end: real previews in, every format out, exit codes, the ledger."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger.records import ApprovalDecision, ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.preview.builders import as_events, preview_json, step
from tests.change_mgmt.preview.test_parse import EXPECTED, SAMPLES
from tests.conftest import REPO_ROOT, git, open_change_window
from tests.fakes.prometheus import Answer, FakePrometheus

runner = CliRunner()
INSIDE_WINDOW = "2026-11-27T10:00:00+00:00"
SATURDAY = "2026-11-28T10:00:00+00:00"
SECRET = "pa55-W0rd-never-show"

SG_OPEN = step(
    "update",
    "aws:ec2/securityGroup:SecurityGroup",
    "web",
    old={"ingress": []},
    new={
        "ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]
    },
    detailed={"ingress[0]": "add"},
)
DOCUMENT_KEYS = {
    "schema",
    "stack",
    "preview_stack",
    "digest",
    "source",
    "summary",
    "preview",
    "risk",
    "decision",
    "approvals",
    "ticket",
    "change",
    "policy_violations",
    "diagnostics",
    "steps",
}


@pytest.fixture
def project(git_project) -> Path:
    root = git_project()
    git(root, "config", "user.email", "alice@example.com")
    shutil.copytree(REPO_ROOT / "slos", root / "slos")  # the SLOs the risk policy names
    git(root, "add", "slos")
    git(root, "commit", "-q", "-m", "slos")
    return root


def _gate(
    project: Path, *args: str, env: dict[str, str] | None = None, at: str | None = INSIDE_WINDOW
):
    """``sre gate`` on ``project``; ``at=None`` gates for real (a what-if never approves)."""
    when = ["--at", at] if at else []
    return runner.invoke(app, ["gate", "--project-dir", str(project), *when, *args], env=env)


def _write(tmp_path: Path, *steps, name: str = "preview.json") -> Path:
    path = tmp_path / name
    path.write_text(preview_json(*steps))
    return path


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_json_on_every_shared_sample(project: Path, relative: str) -> None:
    flag = "--events" if relative.endswith(".jsonl") else "--preview"
    result = _gate(project, "--stack", "prod", flag, str(SAMPLES / relative), "--format", "json")
    assert result.exit_code in {0, 3}, result.output
    document = json.loads(result.stdout)
    assert set(document) == DOCUMENT_KEYS
    assert document["schema"] == "sre-platform/gate-report/v1"
    assert document["decision"]["open"] is (result.exit_code == 0)
    assert len(document["digest"]) == 64
    assert document["risk"]["score"] == min(
        100, sum(f["points"] for f in document["risk"]["factors"])
    )


def test_a_closed_gate_explains_itself_in_text(project: Path, tmp_path: Path) -> None:
    result = _gate(project, "--stack", "prod", "--preview", str(_write(tmp_path, SG_OPEN)))
    assert result.exit_code == 3
    text = result.stdout
    assert "Gate CLOSED for stack prod" in text
    assert "Risk HIGH" in text
    assert "Risk high needs 2 approvals; 0 present." in text
    assert "sre changes approve 1 --reason" in text
    assert "open-ingress" in text and "ingress[0]" in text


def test_approvals_in_the_ledger_open_the_gate(project: Path, tmp_path: Path) -> None:
    open_change_window(project)
    preview = str(_write(tmp_path, SG_OPEN))
    first = json.loads(
        _gate(project, "--stack", "prod", "--preview", preview, "--format", "json", at=None).stdout
    )
    ledger = Ledger.for_repository(project)
    now = datetime(2026, 11, 27, 9, tzinfo=UTC)
    for approver in ("test@example.com", "bob@example.com"):  # test@ wrote HEAD
        ledger.add_approval(
            "prod",
            first["digest"],
            approver=approver,
            decision=ApprovalDecision.approve,
            reason="ok",
            now=now,
        )
    self_approved = _gate(
        project, "--stack", "prod", "--preview", preview, "--format", "json", at=None
    )
    document = json.loads(self_approved.stdout)
    assert self_approved.exit_code == 3
    author = next(
        a for a in document["approvals"]["present"] if a["approver"] == "test@example.com"
    )
    assert (author["counts"], author["why_not"]) == (
        False,
        "four eyes: the author of a change cannot approve it",
    )
    ledger.add_approval(
        "prod",
        first["digest"],
        approver="carol@example.com",
        decision=ApprovalDecision.approve,
        reason="ok",
        now=now,
    )
    opened = _gate(project, "--stack", "prod", "--preview", preview, "--format", "json", at=None)
    assert opened.exit_code == 0, opened.stdout
    assert json.loads(opened.stdout)["decision"]["open"] is True
    record = ledger.find("prod", first["digest"])
    assert (
        record is not None
        and record.state == ChangeState.approved
        and record.id == first["change"]["id"]
    )


def test_a_new_preview_needs_new_approvals(project: Path, tmp_path: Path) -> None:
    preview = _write(tmp_path, SG_OPEN)
    digest = json.loads(
        _gate(project, "--stack", "prod", "--preview", str(preview), "--format", "json").stdout
    )["digest"]
    ledger = Ledger.for_repository(project)
    now = datetime(2026, 11, 27, 9, tzinfo=UTC)
    for approver in ("bob@example.com", "carol@example.com"):
        ledger.add_approval(
            "prod",
            digest,
            approver=approver,
            decision=ApprovalDecision.approve,
            reason="ok",
            now=now,
        )
    assert _gate(project, "--stack", "prod", "--preview", str(preview)).exit_code == 0
    changed = dict(
        SG_OPEN, newState={**SG_OPEN["newState"], "inputs": {"ingress": [], "description": "x"}}
    )
    replay = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        str(_write(tmp_path, changed, name="v2.json")),
        "--format",
        "json",
    )
    document = json.loads(replay.stdout)
    assert document["digest"] != digest
    assert document["approvals"]["present"] == []


def test_outside_the_window_in_text_and_markdown(project: Path, tmp_path: Path) -> None:
    preview = str(_write(tmp_path, step("create", "aws:s3/bucket:Bucket", "logs", new={})))
    result = runner.invoke(
        app,
        [
            "gate",
            "--project-dir",
            str(project),
            "--stack",
            "prod",
            "--preview",
            preview,
            "--at",
            SATURDAY,
            "--format",
            "markdown",
        ],
    )
    assert result.exit_code == 3
    assert "## Change gate ⛔ closed: prod" in result.stdout
    assert "outside-change-window" in result.stdout and "Sat 11:00 Europe/Berlin" in result.stdout


def test_markdown_stays_under_the_comment_limit_for_huge_previews(
    project: Path, tmp_path: Path
) -> None:
    steps = [
        step(
            "update",
            "kubernetes:apps/v1:Deployment",
            f"app-{i:05d}-" + "x" * 40,
            old={"r": 1},
            new={"r": 2},
            detailed={
                f"spec.template.spec.containers[0].env[{j}].value": "update" for j in range(8)
            },
        )
        for i in range(5_000)
    ]
    steps.append(step("delete", "aws:s3/bucket:Bucket", "precious", old={}))
    result = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        str(_write(tmp_path, *steps)),
        "--format",
        "markdown",
    )
    assert result.exit_code == 3
    assert len(result.stdout) < 60_000
    assert "more steps not shown" in result.stdout
    table = result.stdout.split("### Steps, riskiest first", 1)[1]
    assert table.index("precious") < table.index("app-00000")  # the risky step comes first


def test_markdown_escapes_names_from_the_preview(project: Path, tmp_path: Path) -> None:
    hostile = step("create", "kubernetes:apps/v1:Deployment", "x|<img src=y>`**", new={})
    result = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        str(_write(tmp_path, hostile)),
        "--format",
        "markdown",
    )
    assert re.search(r"(?<!\\)<img", result.stdout) is None
    assert r"x\|\<img src=y\>" in result.stdout


def test_no_secret_reaches_any_output_or_the_ledger(project: Path, tmp_path: Path) -> None:
    secret_step = step(
        "update",
        "aws:rds/instance:Instance",
        "db",
        old={"password": SECRET, "userData": f"mysql://root:{SECRET}@db"},
        new={
            "password": SECRET,
            "masterUserPassword": SECRET,
            "userData": f"mysql://root:{SECRET}@db2",
        },
        detailed={"password": "update", "userData": "update"},
    )
    preview = str(_write(tmp_path, secret_step))
    for output_format in ("text", "json", "markdown"):
        result = _gate(project, "--stack", "prod", "--preview", preview, "--format", output_format)
        assert result.exit_code in {0, 3}
        assert SECRET not in result.output
    ledger_bytes = (project / ".sre" / "ledger.sqlite3").read_bytes()
    assert SECRET.encode() not in ledger_bytes


def test_emergency_changes_are_recorded(project: Path, tmp_path: Path) -> None:
    open_change_window(project)
    preview = str(_write(tmp_path, step("delete", "aws:s3/bucket:Bucket", "data", old={})))
    result = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        preview,
        "--emergency",
        "--reason",
        "disk full on primary",
        "--format",
        "json",
        at=None,
    )
    document = json.loads(result.stdout)
    assert document["risk"]["change_type"] == "emergency"
    assert document["approvals"]["required"] == 1
    record = Ledger.for_repository(project).get(document["change"]["id"])
    assert (record.change_type, record.emergency_reason) == ("emergency", "disk full on primary")
    assert record.review_due_at is not None and record.reviewed_at is None  # review owed in 48 h


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--emergency"], "--emergency needs --reason"),
        (["--reason", "x"], "--reason is only for emergency changes"),
        (["--preview", "P", "--events", "P"], "either --preview or --events"),
    ],
)
def test_usage_errors_exit_2(project: Path, tmp_path: Path, args: list[str], message: str) -> None:
    preview = str(_write(tmp_path, SG_OPEN))
    args = [preview if a == "P" else a for a in args]
    if "--preview" not in args:
        args = ["--preview", preview, *args]
    result = _gate(project, "--stack", "prod", *args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Error: no stack named 'prod' found\n", "no JSON object found"),
        ('{"steps": [{"op": 1}]}', r"steps[0].op: expected a string, got a number"),
    ],
)
def test_bad_previews_exit_2_without_a_traceback(
    project: Path, tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = _gate(project, "--stack", "prod", "--preview", str(bad))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_without_a_preview_file_and_without_pulumi_it_says_what_to_do(project: Path) -> None:
    result = _gate(project, "--stack", "prod", env={"PATH": "/nonexistent"})
    assert result.exit_code == 2
    assert "the Pulumi CLI is not on PATH" in result.output
    assert "--preview preview.json" in result.output


def test_a_bad_repository_policy_is_reported_with_its_line(project: Path, tmp_path: Path) -> None:
    (project / "risk-policy.yaml").write_text("levels:\n  medium: 50\n  high: 40\n")
    result = _gate(project, "--stack", "prod", "--preview", str(_write(tmp_path, SG_OPEN)))
    assert result.exit_code == 2
    assert "risk-policy.yaml:2:3: levels: thresholds must increase" in result.output


def test_a_repository_freeze_calendar_closes_the_gate(project: Path, tmp_path: Path) -> None:
    (project / "change-freezes.yaml").write_text(
        "freezes:\n  - id: thanksgiving\n    start: 2026-11-26T00:00:00Z\n    end: 2026-11-30T00:00:00Z\n    reason: Peak traffic\n"
    )
    result = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        str(_write(tmp_path, step("create", "kubernetes:apps/v1:Deployment", "a", new={}))),
        "--format",
        "json",
    )
    reasons = json.loads(result.stdout)["decision"]["reasons"]
    assert result.exit_code == 3
    assert any(
        r["code"] == "closed:change-freeze" and "Peak traffic" in r["message"] for r in reasons
    )


def test_two_gates_racing_on_one_change_make_one_record(project: Path, tmp_path: Path) -> None:
    preview = str(_write(tmp_path, SG_OPEN))
    command = [
        sys.executable,
        "-m",
        "change_mgmt.cli",
        "gate",
        "--project-dir",
        str(project),
        "--stack",
        "prod",
        "--preview",
        preview,
        "--format",
        "json",
        "--at",
        INSIDE_WINDOW,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    ids = {json.loads(stdout)["change"]["id"] for stdout, _ in outputs}
    assert [p.returncode for p in processes] == [3, 3], [e.decode() for _, e in outputs]
    assert ids == {1}
    assert len(Ledger.for_repository(project).list()) == 1


@pytest.mark.parametrize(
    ("answer", "closed_by"),
    [
        (Answer.value(0.8), None),
        (Answer.value(-0.1), "closed:error-budget-exhausted"),
        (Answer.unavailable(), "closed:error-budget-unknown"),
    ],
)
def test_error_budgets_come_from_prometheus_over_http(
    project: Path, tmp_path: Path, answer, closed_by
) -> None:
    preview = str(_write(tmp_path, step("create", "kubernetes:apps/v1:Deployment", "a", new={})))
    with FakePrometheus() as prometheus:
        prometheus.answers["mattermost-api-requests-availability"] = answer
        result = _gate(
            project,
            "--stack",
            "prod",
            "--preview",
            preview,
            "--format",
            "json",
            env={"SRE_PROMETHEUS_URL": prometheus.url},
        )
        assert any(
            'sloth_id="mattermost-api-requests-availability"' in (q or "")
            for q in prometheus.queries
        )
    document = json.loads(result.stdout)
    codes = {r["code"] for r in document["decision"]["reasons"]}
    assert (result.exit_code == 0) is (closed_by is None)
    if closed_by:
        assert closed_by in codes
    assert document["risk"]["error_budgets"][0]["service"] == "mattermost-api-requests-availability"


def test_an_emergency_passes_an_exhausted_budget_with_one_approval(
    project: Path, tmp_path: Path
) -> None:
    preview = str(_write(tmp_path, step("create", "kubernetes:apps/v1:Deployment", "a", new={})))
    with FakePrometheus() as prometheus:
        prometheus.answers["mattermost-api-requests-availability"] = Answer.value(-0.5)
        args = [
            "--stack",
            "prod",
            "--preview",
            preview,
            "--format",
            "json",
            "--emergency",
            "--reason",
            "hotfix for the outage",
        ]
        first = json.loads(_gate(project, *args, env={"SRE_PROMETHEUS_URL": prometheus.url}).stdout)
        Ledger.for_repository(project).add_approval(
            "prod",
            first["digest"],
            approver="oncall@example.com",
            decision=ApprovalDecision.approve,
            reason="seen it",
            now=datetime(2026, 11, 27, 9, tzinfo=UTC),
        )
        second = _gate(project, *args, env={"SRE_PROMETHEUS_URL": prometheus.url})
    assert first["decision"]["open"] is False
    assert second.exit_code == 0, second.stdout


def test_the_policy_comes_from_the_base_branch_when_asked(project: Path, tmp_path: Path) -> None:
    (project / "change-freezes.yaml").write_text(
        "freezes:\n  - start: 2026-11-26T00:00:00Z\n    end: 2026-11-30T00:00:00Z\n    reason: Peak traffic\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "freeze")
    # The change under review relaxes the rules it is judged by...
    (project / "risk-policy.yaml").write_text("rules:\n  open-ingress: {enabled: false}\n")
    (project / "change-freezes.yaml").write_text("freezes: []\n")
    preview = str(_write(tmp_path, SG_OPEN))
    relaxed = json.loads(
        _gate(project, "--stack", "prod", "--preview", preview, "--format", "json").stdout
    )
    assert "open-ingress" not in {f["rule"] for f in relaxed["risk"]["factors"]}
    # ...which does not work when the gate reads them from the protected branch.
    trusted = json.loads(
        _gate(
            project,
            "--stack",
            "prod",
            "--preview",
            preview,
            "--format",
            "json",
            "--base-ref",
            "main",
        ).stdout
    )
    assert {"open-ingress", "change-freeze"} <= {f["rule"] for f in trusted["risk"]["factors"]}


def test_an_unknown_base_ref_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    result = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        str(_write(tmp_path, SG_OPEN)),
        "--base-ref",
        "origin/nope",
    )
    assert result.exit_code == 1
    assert "base ref 'origin/nope': no such branch" in result.output


# -- a preview that cannot say what changes never opens the gate ------------------------

SAFE_CREATE = step("create", "kubernetes:apps/v1:Deployment", "app", new={})  # low risk
ACCESS_DENIED = (
    '{"diagnostics": [{"severity": "error", "message": "preview failed: AccessDenied"}]}'
)


@pytest.mark.parametrize(
    ("flag", "content", "message"),
    [
        ("--preview", "{}", "bad.txt:1: not a preview: the object has none of the keys"),
        ("--preview", '{"name": "x"}', "bad.txt:1: not a preview: the object has none of the keys"),
        ("--preview", as_events(SAFE_CREATE), "bad.txt:1: an engine event, not the output of"),
        ("--events", "{}", "bad.txt:1: not an engine event"),
        ("--events", preview_json(SAFE_CREATE), "the output of `pulumi preview --json` (one"),
        ("--preview", '{"steps": []}', "not a preview: it has neither steps nor a changeSummary"),
    ],
    ids=[
        "empty",
        "no-preview-key",
        "events-as-preview",
        "empty-as-events",
        "json-as-events",
        "no-steps",
    ],
)
def test_what_is_not_a_preview_or_not_this_format_exits_2_and_says_so(
    project: Path, tmp_path: Path, flag: str, content: str, message: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(content)
    result = _gate(project, "--stack", "prod", flag, str(bad))
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (project / ".sre" / "ledger.sqlite3").exists()  # nothing was recorded


@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_error_diagnostics_close_the_gate_and_show_in_every_format(
    project: Path, tmp_path: Path, output_format: str
) -> None:
    failed = tmp_path / "failed.json"
    failed.write_text(
        ACCESS_DENIED.replace("AccessDenied", "AccessDenied for postgres://app:hunter2xx@db")
    )
    result = _gate(project, "--stack", "prod", "--preview", str(failed), "--format", output_format)
    assert result.exit_code == 3, result.output
    # Markdown escapes the brackets of [secret]; text may fold lines between words.
    shown = " ".join(result.stdout.replace("\\", "").split())
    assert "preview-failed" in shown
    assert "preview failed: AccessDenied for postgres://app:[secret]@db" in shown
    assert "hunter2xx" not in result.output
    assert "No resource changes" not in result.stdout and "no resources" not in result.stdout
    if output_format == "json":
        document = json.loads(result.stdout)
        assert document["decision"]["open"] is False
        assert document["preview"]["failed"] is True
        assert [d["severity"] for d in document["diagnostics"]] == ["error"]


def test_an_event_log_cut_before_its_summary_closes_the_gate(project: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl"
    cut.write_text(as_events(SAFE_CREATE, summary=False))
    result = _gate(project, "--stack", "prod", "--events", str(cut), "--format", "json")
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert [r["code"] for r in document["decision"]["reasons"]] == ["preview-incomplete"]
    assert "without the engine's summaryEvent" in document["preview"]["incomplete"]
    complete = tmp_path / "complete.jsonl"
    complete.write_text(as_events(SAFE_CREATE, resource_changes={"create": 1}))
    assert _gate(project, "--stack", "prod", "--events", str(complete)).exit_code == 0


def test_a_summary_counting_more_changes_than_the_events_closes_the_gate(
    project: Path, tmp_path: Path
) -> None:
    short = tmp_path / "short.jsonl"
    short.write_text(as_events(SAFE_CREATE, resource_changes={"create": 1, "delete": 2}))
    result = _gate(project, "--stack", "prod", "--events", str(short))
    assert result.exit_code == 3
    assert "counts 3 change(s) but its steps carry 1" in " ".join(result.stdout.split())
    assert "unknown: the preview is incomplete" in result.stdout


def _nested_inputs(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("flag", "replace", "message"),
    [
        ("--preview", '"9' + "9" * 5000 + '"', ":10: a number of 5001 digits"),  # its object
        ("--events", '"9' + "9" * 5000 + '"', ":2: a number of 5001 digits"),
        ("--events", f'"{_nested_inputs(500)}"', ":2: resourcePreEvent.metadata: inputs of the"),
        ("--preview", f'"{_nested_inputs(500)}"', ": steps[0]: inputs of the new state: nested"),
        ("--preview", '"NaN"', ":10: NaN is not a JSON number"),
        ("--events", '"Infinity"', ":2: Infinity is not a JSON number"),
    ],
    ids=["big-number", "big-number-events", "deep-events", "deep-json", "nan", "infinity"],
)
def test_values_no_preview_holds_exit_2_naming_where(
    project: Path, tmp_path: Path, flag: str, replace: str, message: str
) -> None:
    marked = step("create", "kubernetes:apps/v1:Deployment", "app", new={"value": "MARK"})
    text = preview_json(marked) if flag == "--preview" else as_events(marked)
    bad = tmp_path / "bad.txt"
    bad.write_text(text.replace('"MARK"', replace.strip('"')))
    result = _gate(project, "--stack", "prod", flag, str(bad))
    assert result.exit_code == 2, result.output
    assert f"{bad}{message}" in "".join(result.output.split("\n"))
    assert "Traceback" not in result.output


def test_duplicate_keys_and_two_documents_are_corrupt(project: Path, tmp_path: Path) -> None:
    text = preview_json(step("delete", "aws:s3/bucket:Bucket", "data", old={}))
    duplicated = tmp_path / "dup.json"
    duplicated.write_text(text.replace('"op": "delete",', '"op": "delete", "op": "same",'))
    twice = tmp_path / "twice.json"
    twice.write_text(preview_json(SAFE_CREATE) + "\n" + text)
    for path, message in (
        (duplicated, "key 'op' twice in one object"),
        (twice, "a second JSON document follows"),
    ):
        result = _gate(project, "--stack", "prod", "--preview", str(path))
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split())


# -- what the gate says to do next -------------------------------------------------------


def test_an_open_production_gate_says_sre_up(project: Path, tmp_path: Path) -> None:
    preview = str(_write(tmp_path, SAFE_CREATE))
    result = _gate(project, "--stack", "prod", "--preview", preview, "--format", "json")
    assert result.exit_code == 0
    (next_step,) = json.loads(result.stdout)["decision"]["next_steps"]
    # the base branch the gate read approvers from, so that sre up gates it the same way
    assert next_step["command"] == "sre up --stack prod --base-ref main"
    text = _gate(project, "--stack", "prod", "--preview", preview).stdout
    assert "sre up --stack prod" in text and "pulumi up" not in text


def test_a_blocked_change_asks_for_no_approvals(project: Path, tmp_path: Path) -> None:
    protected = step("delete", "aws:s3/bucket:Bucket", "data", old={}, protect=True)
    result = _gate(
        project,
        "--stack",
        "prod",
        "--preview",
        str(_write(tmp_path, protected)),
        "--format",
        "json",
    )
    document = json.loads(result.stdout)
    assert "blocked:protected-delete" in {r["code"] for r in document["decision"]["reasons"]}
    steps = document["decision"]["next_steps"]
    assert steps and not any("approve" in (s["command"] or "") for s in steps)
    assert not any("reviewer" in s["text"] or "group" in s["text"] for s in steps)


def test_the_markdown_comment_shows_the_digest_sre_approve_takes(
    project: Path, tmp_path: Path
) -> None:
    preview = str(_write(tmp_path, SG_OPEN))
    digest = json.loads(
        _gate(project, "--stack", "prod", "--preview", preview, "--format", "json").stdout
    )["digest"]
    markdown = _gate(project, "--stack", "prod", "--preview", preview, "--format", "markdown")
    assert f"digest `{digest}`" in markdown.stdout
    assert re.search(r"`[0-9a-f]{12,63}`", markdown.stdout) is None  # no abbreviated digest


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_gate_help_and_gate_page_agree_on_how_the_author_is_found() -> None:
    found = "the author of the newest commit that changes more than approval records"
    assert found in _plain(runner.invoke(app, ["gate", "--help"], env={"COLUMNS": "200"}).stdout)
    page = _plain((Path(__file__).resolve().parents[2] / "docs" / "gate.md").read_text())
    row = next(line for line in page.split("| `--") if line.startswith("author EMAIL`"))
    assert "$SRE_CHANGE_AUTHOR" in row and found in row
