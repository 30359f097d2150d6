"""What a Jira change ticket says: summary, description (wiki markup), labels, JSM fields.

Built from the gate's values only (the redacted ChangeSet, the assessment, approvals, the
change record); nothing here talks to Jira except :func:`resolve_fields`, which maps our
field names to the site's custom field ids.

Safety of the text:

* every piece of text that comes from outside this module (resource names and types,
  rule explanations, approver names and reasons, plans, the PR URL) goes through
  :func:`~change_mgmt.preview.redact.scrub_text` *and* :func:`wiki_escape`, so no
  credential-shaped string and no Jira markup (``{color}``, ``[link|…]``, ``*bold*``,
  ``|table|``, ``!image!``, ``[~mention]``…) from a resource name reaches the ticket;
* the description is capped below Jira's 32 767-character limit, and more than
  ``step_limit`` steps are summarised with counts by op and by type.

Labels: ``sre-gate`` on every ticket; ``sre-change-<16 hex>`` identifies the change (stack
+ digest, see :func:`change_label`) and is what makes ticket creation idempotent;
``sre-stack-<slug>`` the stack; ``sre-pr-<16 hex>`` the pull request, when known.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from change_mgmt.gate.decision import Approval
from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.preview import ChangeSet, ResourceChange
from change_mgmt.preview.redact import scrub_text
from change_mgmt.risk.assess import RiskAssessment, StepRisk
from change_mgmt.tickets.config import JiraFieldNames
from change_mgmt.tickets.errors import FieldNotFound
from change_mgmt.tickets.jira import JiraClient

PR_URL_ENV = "SRE_PR_URL"
GATE_LABEL = "sre-gate"
STEP_LIMIT = 50
SUMMARY_LIMIT = 255
DESCRIPTION_LIMIT = 30_000
"""Jira refuses descriptions over 32 767 characters; keep a margin."""

DEFAULT_IMPLEMENTATION_PLAN = (
    "Apply exactly the gated plan from CI once the gate is open: "
    "pulumi up --stack <stack> --plan <the plan of this digest>. "
    "Any change to the preview produces a new digest and needs a new gate run."
)
DEFAULT_BACKOUT_PLAN = (
    "Revert the commit and apply the previous configuration through the gate "
    "(a new change with its own digest). For replaced or deleted stateful resources, "
    "restore from the latest backup or snapshot."
)
DEFAULT_CHANGE_WINDOW = "Not specified: the risk policy's change windows apply."

CHANGE_TYPE_OPTIONS = {"standard": "Standard", "normal": "Normal", "emergency": "Emergency"}
"""Our change type → the JSM "Change type" option."""
CHANGE_RISK_OPTIONS = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
"""Our risk level → the JSM "Change risk" option."""

_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|*_+^~?!#\-])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SLUG = re.compile(r"[^a-z0-9]+")
_LINKABLE_URL = re.compile(r"https?://[^\s|\[\]{}<>\"']+")
_SKIPPED_RULES = frozenset({"riskiest-step", "change-size", "blast-radius"})


def _sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def change_label(stack: str, digest: str) -> str:
    """The dedupe label of one change: ``sre-change-<sha256(stack + "\\n" + digest)[:16]>``."""
    return f"sre-change-{_sha16(stack + chr(10) + digest)}"


def stack_label(stack: str) -> str:
    """``sre-stack-<slug>``: lowercase letters and digits, runs of others as one ``-``;
    long names keep a hash suffix so two stacks never share a label."""
    slug = _SLUG.sub("-", stack.lower()).strip("-") or "unnamed"
    if len(slug) > 80:
        slug = f"{slug[:60].rstrip('-')}-{_sha16(stack)[:12]}"
    return f"sre-stack-{slug}"


def pr_label(pr_url: str) -> str:
    """``sre-pr-<sha256(pr_url)[:16]>``: ties the tickets of one pull request together."""
    return f"sre-pr-{_sha16(pr_url.strip())}"


def pr_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """``$SRE_PR_URL``, None when unset or blank."""
    env = os.environ if environ is None else environ
    return env.get(PR_URL_ENV, "").strip() or None


def wiki_escape(text: str) -> str:
    """``text`` as literal Jira wiki text on one line: credential shapes scrubbed, markup
    characters backslash-escaped, control characters and line breaks made spaces."""
    text = _CONTROL.sub(" ", scrub_text(text)).replace("\n", " ")
    return _WIKI_SPECIAL.sub(r"\\\1", text)


def wiki_block(text: str) -> str:
    """Multi-line free text (a plan): each line escaped, the line breaks kept."""
    return "\n".join(wiki_escape(line) for line in scrub_text(text).splitlines())


@dataclass(frozen=True)
class TicketContext:
    """Everything a ticket says about one change; built by the gate."""

    changeset: ChangeSet
    assessment: RiskAssessment
    record: ChangeRecord
    approvals: tuple[Approval, ...] = ()
    commit: str | None = None
    pr_url: str | None = None
    """The pull request (``$SRE_PR_URL`` in CI, see :func:`pr_url_from_env`)."""
    implementation_plan: str | None = None
    backout_plan: str | None = None
    change_window: str | None = None
    step_limit: int = STEP_LIMIT

    @property
    def stack(self) -> str:
        return self.changeset.stack

    @property
    def digest(self) -> str:
        return self.changeset.digest

    @property
    def required_approvals(self) -> int:
        return self.assessment.required_approvals

    @property
    def required_groups(self) -> tuple[str, ...]:
        return self.assessment.required_groups


@dataclass(frozen=True)
class TicketContent:
    """``fields`` is keyed by *our* names (see :class:`JiraFieldNames`), not site ids."""

    summary: str
    description: str
    labels: tuple[str, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)


EMERGENCY_LABEL = "sre-emergency"
"""Flags break-glass changes on the ticket (with the change type field, where the site has it)."""


def ticket_labels(ctx: TicketContext) -> tuple[str, ...]:
    labels = [GATE_LABEL, change_label(ctx.stack, ctx.digest), stack_label(ctx.stack)]
    if ctx.assessment.change_type == "emergency":
        labels.append(EMERGENCY_LABEL)
    if ctx.pr_url:
        labels.append(pr_label(ctx.pr_url))
    return tuple(labels)


def render_summary(changeset: ChangeSet, assessment: RiskAssessment) -> str:
    counts = changeset.summary
    tail = (
        f"{counts.get('create', 0)} to create, {counts.get('update', 0)} to update, "
        f"{counts.get('replace', 0)} to replace, {counts.get('delete', 0)} to delete "
        f"— risk {assessment.level.upper()}"
    )
    stack = _CONTROL.sub(" ", changeset.stack).replace("\n", " ")
    room = SUMMARY_LIMIT - len(tail) - 3
    if len(stack) > room:
        stack = stack[: max(room - 1, 1)] + "…"
    return f"[{stack}] {tail}"


def render_ticket(ctx: TicketContext) -> TicketContent:
    """The ticket of one change: exact summary, wiki description, labels, JSM fields."""
    implementation = ctx.implementation_plan or DEFAULT_IMPLEMENTATION_PLAN
    backout = ctx.backout_plan or DEFAULT_BACKOUT_PLAN
    fields: dict[str, Any] = {
        "change_type": {"value": CHANGE_TYPE_OPTIONS.get(ctx.assessment.change_type, "Normal")},
        "change_risk": {"value": CHANGE_RISK_OPTIONS.get(ctx.assessment.level, "High")},
        "implementation_plan": scrub_text(implementation),
        "backout_plan": scrub_text(backout),
    }
    return TicketContent(
        summary=render_summary(ctx.changeset, ctx.assessment),
        description=render_description(ctx),
        labels=ticket_labels(ctx),
        fields=fields,
    )


def risky_steps(
    changeset: ChangeSet, assessment: RiskAssessment
) -> list[tuple[StepRisk, ResourceChange, tuple[str, ...]]]:
    """Changed resources, those named by a rule first, then by their own points (as in
    the gate report's ``risky_first``)."""
    flagged: dict[str, list[str]] = {}
    for factor in assessment.factors:
        if factor.rule in _SKIPPED_RULES:
            continue
        for evidence in factor.evidence:
            flagged.setdefault(evidence.urn, []).append(factor.rule)
    changes = changeset.by_urn()
    steps = sorted(assessment.steps, key=lambda s: (s.urn not in flagged, -s.points, s.urn))
    return [(s, changes[s.urn], tuple(flagged.get(s.urn, ()))) for s in steps if s.urn in changes]


def _cell(text: str) -> str:
    return wiki_escape(text) if text.strip() else "—"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _approval_lines(ctx: TicketContext) -> list[str]:
    relevant = [a for a in ctx.approvals if (a.stack, a.digest) == (ctx.stack, ctx.digest)]
    counted = sorted({a.approver for a in relevant if a.decision == "approve" and a.counts})
    groups = sorted({g for a in relevant if a.decision == "approve" and a.counts for g in a.groups})
    missing = [g for g in ctx.required_groups if g not in groups]
    required_groups = ", ".join(wiki_escape(g) for g in ctx.required_groups) or "none"
    lines = [
        "h3. Approvals",
        f"* *Required:* {_plural(ctx.required_approvals, 'approval')}; groups: {required_groups}",
        f"* *Counted:* {len(counted)} of {ctx.required_approvals}"
        + (f" ({', '.join(wiki_escape(a) for a in counted)})" if counted else ""),
    ]
    if missing:
        lines.append(f"* *Groups missing:* {', '.join(wiki_escape(g) for g in missing)}")
    if relevant:
        lines.append("||Approver||Decision||Counts||Why not||Groups||Source||Reason||")
        lines.extend(
            f"|{_cell(a.approver)}|{a.decision}|{'yes' if a.counts else 'no'}|"
            f"{_cell(a.why_not or '')}|{_cell(', '.join(a.groups))}|{_cell(a.source)}|"
            f"{_cell(a.reason[:300])}|"
            for a in relevant
        )
    else:
        lines.append("No approval recorded yet.")
    return lines


def _step_lines(ctx: TicketContext) -> list[str]:
    steps = risky_steps(ctx.changeset, ctx.assessment)
    limit = max(ctx.step_limit, 0)
    lines = [
        f"h3. Steps ({_plural(len(steps), 'changed resource')}, riskiest first)",
        "||Op||Type||Name||Points||Class||Rules||",
    ]
    lines.extend(
        f"|{wiki_escape(step.op)}|{_cell(change.type)}|{_cell(change.name)}|"
        f"{step.points:.1f}|{_cell(step.class_name)}|{_cell(', '.join(rules))}|"
        for step, change, rules in steps[:limit]
    )
    rest = steps[limit:]
    if rest:
        by_op = Counter(step.op for step, _, _ in rest)
        by_type = Counter(change.type for _, change, _ in rest)
        lines.append(
            f"*… and {len(rest)} more* (not listed). By op: "
            + ", ".join(f"{wiki_escape(op)} {n}" for op, n in sorted(by_op.items()))
            + ". By type: "
            + ", ".join(f"{wiki_escape(t)} {n}" for t, n in by_type.most_common(20))
            + (f", {len(by_type) - 20} other types" if len(by_type) > 20 else "")
            + "."
        )
    return lines


def render_description(ctx: TicketContext) -> str:
    """The description in Jira wiki markup (API v2 plain text)."""
    cs, risk, record = ctx.changeset, ctx.assessment, ctx.record
    counts = ", ".join(f"{op} {n}" for op, n in cs.summary.items()) or "no resources"
    if ctx.pr_url and _LINKABLE_URL.fullmatch(scrub_text(ctx.pr_url)):
        pr = f"[pull request|{scrub_text(ctx.pr_url)}]"
    elif ctx.pr_url:
        pr = wiki_escape(ctx.pr_url)
    else:
        pr = "none"
    commit = wiki_escape(ctx.commit or record.commit or "unknown")
    lines = [
        f"h2. Change to stack {wiki_escape(cs.stack)}",
        f"* *Change type:* {wiki_escape(risk.change_type)}",
        f"* *Risk:* {wiki_escape(risk.level.upper())} (score {risk.score} of 100, "
        f"tier {wiki_escape(risk.tier)})",
        f"* *Resources:* {wiki_escape(counts)}",
        f"* *Digest:* {{{{{wiki_escape(cs.digest)}}}}}",
        f"* *Commit:* {commit}",
        f"* *Pull request:* {pr}",
        f"* *Change record:* CHG\\-{record.id} ({wiki_escape(record.state.value)})",
    ]
    if record.emergency_reason:
        lines.append(f"* *Emergency reason:* {wiki_escape(record.emergency_reason)}")
    lines += ["", "h3. Risk factors"]
    if risk.factors:
        lines.append("||Rule||Points||Effect||Explanation||")
        lines.extend(
            f"|{wiki_escape(f.rule)}|{f.points}|{wiki_escape(f.effect)}|"
            f"{_cell(f.explanation[:1000])}|"
            for f in risk.factors
        )
    else:
        lines.append("No risk factor.")
    lines.extend(f"* {wiki_escape(note)}" for note in risk.notes)
    lines += ["", *_step_lines(ctx), "", *_approval_lines(ctx), ""]
    lines += [
        "h3. Implementation plan",
        wiki_block(ctx.implementation_plan or DEFAULT_IMPLEMENTATION_PLAN),
        "",
        "h3. Backout plan",
        wiki_block(ctx.backout_plan or DEFAULT_BACKOUT_PLAN),
        "",
        "h3. Change window",
        wiki_block(ctx.change_window or DEFAULT_CHANGE_WINDOW),
        "",
        "_Maintained by the SRE change gate; edits to this description are overwritten._",
    ]
    text = "\n".join(lines)
    if len(text) > DESCRIPTION_LIMIT:
        cut = text.rfind("\n", 0, DESCRIPTION_LIMIT - 200)
        text = text[: max(cut, 0)] + "\n\n*(truncated: the full report is in the gate output)*"
    return text


def resolve_fields(
    client: JiraClient, names: JiraFieldNames, content: TicketContent
) -> dict[str, Any]:
    """``content.fields`` keyed by site field ids; a field the site lacks (or that is
    mapped to None) is skipped silently, one by one."""
    mapping = names.as_mapping()
    resolved: dict[str, Any] = {}
    for ours, value in content.fields.items():
        theirs = mapping.get(ours)
        if theirs is None:
            continue
        try:
            resolved[client.field_id(theirs)] = value
        except FieldNotFound:
            continue
    return resolved
