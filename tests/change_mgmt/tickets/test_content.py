"""The content of a change ticket: exact summary, every factor, steps, no secret, no markup."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from change_mgmt.gate.decision import Approval
from change_mgmt.ledger.store import Ledger
from change_mgmt.preview import ChangeSet, parse_preview_json
from change_mgmt.risk.assess import AssessmentContext, RiskAssessment, assess
from change_mgmt.risk.policy import default_policy
from change_mgmt.tickets.content import (
    GATE_LABEL,
    TicketContext,
    change_label,
    pr_label,
    pr_url_from_env,
    render_ticket,
    stack_label,
    wiki_escape,
)
from tests.change_mgmt.preview.builders import preview_json, step

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "hunter2-very-secret-password"
EVIL_NAME = "web*bold*_x_{color:red}[click|https://evil.example]!img.png!|cell"

STEPS_SG_AND_BUCKET = [
    step(
        "update",
        "aws:ec2/securityGroup:SecurityGroup",
        EVIL_NAME,
        old={"ingress": []},
        new={
            "ingress": [
                {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
            ]
        },
        detailed={"ingress[0]": "add"},
    ),
    step("delete", "aws:s3/bucket:Bucket", "data", old={"bucket": "data"}),
    step(
        "create",
        "aws:rds/instance:Instance",
        "db",
        new={"password": PASSWORD, "url": f"postgres://app:{PASSWORD}@db/app", "tag": AWS_KEY},
    ),
    step("replace", "aws:iam/role:Role", "role", old={}, new={}, replace_reasons=["name"]),
]


COMMIT = "0123abcd" * 5


def make_context(
    tmp_path: Path,
    steps: list[dict[str, Any]] | None = None,
    *,
    stack: str = "prod",
    approvals: tuple[Approval, ...] = (),
    ledger: Ledger | None = None,
    **extra: Any,
) -> TicketContext:
    changeset = parse_preview_json(preview_json(*(steps or STEPS_SG_AND_BUCKET)), stack=stack)
    assessment = assess(changeset, default_policy(), AssessmentContext(now=NOW))
    ledger = ledger or Ledger(tmp_path / "ledger.sqlite3")
    return proposed_context(ledger, changeset, assessment, approvals=approvals, **extra)


def proposed_context(
    ledger: Ledger, changeset: ChangeSet, assessment: RiskAssessment, **extra: Any
) -> TicketContext:
    """Propose the change in ``ledger`` (author dana, a fixed commit) and its ticket context."""
    record = ledger.propose(
        changeset.stack,
        changeset.digest,
        risk_level=assessment.level,
        risk_score=assessment.score,
        change_type=assessment.change_type,
        author="dana",
        commit=COMMIT,
        summary=changeset.summary,
        now=NOW,
    )
    return TicketContext(
        changeset=changeset, assessment=assessment, record=record, commit=COMMIT, **extra
    )


def test_summary_is_exact(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    content = render_ticket(ctx)
    assert content.summary == (
        f"[prod] 1 to create, 1 to update, 1 to replace, 1 to delete — risk "
        f"{ctx.assessment.level.upper()}"
    )
    assert ctx.assessment.level.upper() in {"HIGH", "CRITICAL"}


def test_every_factor_and_facts_in_description(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    approvals = (
        Approval("prod", "f" * 64, "mallory", "approve", "other change", "test"),
        Approval("prod", ctx.digest, "alice", "approve", "ok", "git", groups=("sre",)),
        Approval(
            "prod",
            ctx.digest,
            "dana",
            "approve",
            "mine",
            "git",
            counts=False,
            why_not="four eyes: the author of a change cannot approve it",
        ),
    )
    ctx = make_context(
        tmp_path,
        pr_url="https://github.com/acme/infra/pull/7",
        approvals=approvals,
        change_window="Tue 10:00-12:00 Europe/Berlin",
    )
    text = render_ticket(ctx).description
    assert ctx.assessment.factors
    for factor in ctx.assessment.factors:
        assert f"|{wiki_escape(factor.rule)}|{factor.points}|" in text
        assert wiki_escape(factor.explanation[:60]) in text
    assert ctx.digest in text
    assert "0123abcd" * 5 in text
    assert "[pull request|https://github.com/acme/infra/pull/7]" in text
    assert "change type:* normal" in text.lower()
    assert f"score {ctx.assessment.score} of 100" in text
    assert f"*Required:* {ctx.required_approvals} approval" in text
    assert "|alice|approve|yes|" in text
    assert "|dana|approve|no|four eyes" in text
    assert "mallory" not in text  # another change's approval is not shown
    assert "h3. Implementation plan" in text and "pulumi up" in text
    assert "h3. Backout plan" in text
    assert "Tue 10:00\\-12:00 Europe/Berlin" in text


def test_steps_are_riskiest_first_and_summarised_beyond_the_limit(tmp_path: Path) -> None:
    many = [step("create", "aws:s3/bucket:Bucket", f"b{i:03d}", new={}) for i in range(60)]
    many += [step("delete", "aws:rds/instance:Instance", "olddb", old={})]
    ctx = make_context(tmp_path, many)
    text = render_ticket(ctx).description
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("|create|") or line.startswith("|delete|")
    ]
    assert len(rows) == 50
    assert rows[0].startswith("|delete|aws\\:") or rows[0].startswith("|delete|aws:")
    assert (
        "*… and 11 more* (not listed). By op: create 11. By type: aws:s3/bucket:Bucket 11." in text
    )
    assert "61 changed resources" in text
    assert render_ticket(ctx).summary.startswith(
        "[prod] 60 to create, 0 to update, 0 to replace, 1 to delete"
    )


def test_no_secret_in_any_part(tmp_path: Path) -> None:
    steps = [
        *STEPS_SG_AND_BUCKET,
        step("create", "aws:s3/bucket:Bucket", f"b-{GITHUB_TOKEN}", new={}),
    ]
    approvals: tuple[Approval, ...] = ()
    ctx = make_context(
        tmp_path,
        steps,
        approvals=approvals,
        implementation_plan=f"export TOKEN={GITHUB_TOKEN}\nrun it",
        backout_plan=f"use {AWS_KEY} and postgres://root:{PASSWORD}@db/x",
        change_window=f"now {GITHUB_TOKEN}",
    )
    content = render_ticket(ctx)
    everything = "\n".join(
        [content.summary, content.description, *content.labels, repr(content.fields)]
    )
    for secret in (GITHUB_TOKEN, AWS_KEY, PASSWORD):
        assert secret not in everything
    assert "[secret]" in everything or "\\[secret\\]" in everything


def test_markup_from_resource_names_is_neutralised(tmp_path: Path) -> None:
    text = render_ticket(make_context(tmp_path)).description
    for raw in ("{color:red}", "[click|", "*bold*", "!img.png!", "_x_"):
        assert raw not in text
    assert wiki_escape(EVIL_NAME) in text
    assert "\\{color:red\\}" in text and "\\[click\\|https://evil.example\\]" in text
    # no table row gained a cell from the name's "|"
    row = next(line for line in text.splitlines() if "securityGroup" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 7


def test_labels_and_fields(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, stack="acme/sre-platform/Prod EU", pr_url="https://x/pull/1")
    content = render_ticket(ctx)
    digest16 = hashlib.sha256(f"acme/sre-platform/Prod EU\n{ctx.digest}".encode()).hexdigest()[:16]
    assert content.labels == (
        GATE_LABEL,
        f"sre-change-{digest16}",
        "sre-stack-acme-sre-platform-prod-eu",
        "sre-pr-" + hashlib.sha256(b"https://x/pull/1").hexdigest()[:16],
    )
    assert change_label(ctx.stack, ctx.digest) == content.labels[1]
    assert stack_label("a" * 300).startswith("sre-stack-") and len(stack_label("a" * 300)) < 100
    assert pr_label(" https://x/pull/1 ") == content.labels[3]
    assert content.fields["change_type"] == {"value": "Normal"}
    assert content.fields["change_risk"] == {"value": ctx.assessment.level.capitalize()}
    assert all(" " not in label for label in content.labels)


def test_pr_url_from_env() -> None:
    assert pr_url_from_env({"SRE_PR_URL": "  "}) is None
    assert pr_url_from_env({"SRE_PR_URL": "https://x/pull/2"}) == "https://x/pull/2"
