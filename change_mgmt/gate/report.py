"""What the gate says: a stable JSON document and a pull-request comment in Markdown.

Both are built from a GateOutcome only; neither re-reads the preview. Resource names
come from the preview, so they are escaped before they reach Markdown.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass
from typing import Any

from change_mgmt.gate.decision import PREVIEW_FAILED, PREVIEW_INCOMPLETE, is_blocking
from change_mgmt.gate.run import GateOutcome
from change_mgmt.preview import ResourceChange
from change_mgmt.risk.assess import Factor, StepRisk

SCHEMA = "sre-platform/gate-report/v1"
MARKDOWN_LIMIT = 60_000
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


@dataclass(frozen=True)
class RiskyStep:
    step: StepRisk
    change: ResourceChange
    rules: tuple[str, ...]

    def paths(self, limit: int = 5) -> str:
        """The first changed property paths, "…" when there are more."""
        shown = ", ".join(self.change.changed_paths[:limit])
        return shown + (" …" if len(self.change.changed_paths) > limit else "")

    def flags(self, protected: str) -> str:
        return ", ".join(self.rules) + (f" {protected}" if self.change.protect else "")


def risky_first(outcome: GateOutcome) -> list[RiskyStep]:
    """Changed resources, those named by a rule first, then by their own points."""
    flagged: dict[str, list[str]] = {}
    for factor in outcome.assessment.factors:
        if factor.rule in {"riskiest-step", "change-size", "blast-radius"}:
            continue
        for evidence in factor.evidence:
            flagged.setdefault(evidence.urn, []).append(factor.rule)
    changes = outcome.changeset.by_urn()
    steps = sorted(outcome.assessment.steps, key=lambda s: (s.urn not in flagged, -s.points, s.urn))
    return [RiskyStep(s, changes[s.urn], tuple(flagged.get(s.urn, ()))) for s in steps]


@dataclass(frozen=True)
class NextStep:
    """Something a person does next; ``command`` is the exact command, when there is one."""

    text: str
    command: str | None = None


def _apply_step(outcome: GateOutcome) -> NextStep:
    """How to apply an open change: production only through ``sre up`` (the guard in the
    program refuses a plain ``pulumi up`` there), other tiers with the saved plan."""
    stack, digest = outcome.changeset.stack, outcome.changeset.digest
    if outcome.assessment.tier == "production":
        command = f"sre up --stack {shlex.quote(stack)}"
        if outcome.base_ref:
            command += f" --base-ref {shlex.quote(outcome.base_ref)}"
        if outcome.decision.emergency:
            reason = outcome.record.emergency_reason or "<what is broken>"
            command += f" --emergency --reason {shlex.quote(reason)}"
        return NextStep(
            f"Apply it with sre up: it previews again, gates that preview (digest {digest}) "
            "and applies exactly its plan:",
            command,
        )
    if outcome.plan is not None:
        return NextStep(
            "Apply exactly the gated plan:", f"pulumi up --stack {stack} --plan {outcome.plan}"
        )
    return NextStep(
        f"Apply it; the gate binds to digest {digest}, so a different preview needs a new "
        "gate run:",
        f"pulumi up --stack {stack}",
    )


def next_steps(outcome: GateOutcome) -> list[NextStep]:
    """What a person does next to open the gate (or to apply the change once it is open).

    A change that something blocks is not sent for approvals: none could open it.
    """
    decision, stack = outcome.decision, outcome.changeset.stack
    codes = {reason.code for reason in decision.reasons}
    if decision.open:
        return [_apply_step(outcome)]
    steps: list[NextStep] = []
    if PREVIEW_FAILED in codes:
        steps.append(NextStep("Fix what made the preview fail (above), then preview again."))
    if PREVIEW_INCOMPLETE in codes:
        steps.append(NextStep("Run the preview again and give the gate its whole output."))
    if "blocked:protected-delete" in codes:
        steps.append(NextStep("Remove `protect` from the resource in a separate, reviewed change."))
    if "blocked:mandatory-policy-violation" in codes:
        steps.append(NextStep("Fix the mandatory policy violations; the engine would refuse them."))
    if "blocked:maybe-corrupt-preview" in codes:
        steps.append(NextStep("Run the preview again; the engine said this one may be corrupt."))
    if any(code.startswith("closed:") for code in codes):
        steps.append(
            NextStep(
                "Wait for the freeze to end or the error budget to recover; only if this "
                "fixes an incident, gate it as an emergency:",
                f'sre gate --stack {stack} --emergency --reason "<what is broken>" …',
            )
        )
    if "rejected" in codes:
        steps.append(NextStep("Address the rejection; a changed preview needs new approvals."))
    if any(is_blocking(code) for code in codes):
        return steps
    signed = outcome.approval_source == "git"
    if decision.missing_approvals:
        command = (
            f"sre approve --stack {stack} --digest {outcome.changeset.digest} "
            '--reason "<why it is safe>" --push'
            if signed
            else f'sre changes approve {outcome.record.id} --reason "<why it is safe>"'
        )
        steps.append(
            NextStep(
                f"Ask {decision.missing_approvals} reviewer(s) other than the author to "
                "review the change and approve it:",
                command,
            )
        )
    for group in decision.missing_groups:
        steps.append(
            NextStep(
                f"One approval must come from a member of the {group} group in approvers.yaml."
                if signed
                else f"An approval from a member of the {group} group is required; local ledger "
                "approvals carry no group, so it must be a signed approval (approvers.yaml)."
            )
        )
    return steps


def preview_problem(outcome: GateOutcome) -> str | None:
    """Why what the change would do is unknown (a failed or incomplete preview), if it is."""
    changeset = outcome.changeset
    if changeset.failures:
        return "unknown: the preview failed"
    if changeset.incomplete:
        return "unknown: the preview is incomplete"
    return None


def _factor(factor: Factor) -> dict[str, Any]:
    return {
        "rule": factor.rule,
        "points": factor.points,
        "explanation": factor.explanation,
        "min_level": factor.min_level,
        "effect": factor.effect,
        "evidence": [{"urn": e.urn, "paths": list(e.paths)} for e in factor.evidence],
    }


def gate_document(outcome: GateOutcome) -> dict[str, Any]:
    """The ``--format json`` document; its keys are a stable, documented interface."""
    changeset, assessment, decision = outcome.changeset, outcome.assessment, outcome.decision
    return {
        "schema": SCHEMA,
        "stack": changeset.stack,
        "preview_stack": changeset.preview_stack,
        "digest": changeset.digest,
        "source": changeset.source,
        "summary": changeset.summary,
        "preview": {
            "failed": bool(changeset.failures),
            "failures": list(changeset.failures),
            "incomplete": changeset.incomplete,
        },
        "risk": {
            "score": assessment.score,
            "level": assessment.level,
            "tier": assessment.tier,
            "change_type": assessment.change_type,
            "factors": [_factor(f) for f in assessment.factors],
            "notes": list(assessment.notes),
            "error_budgets": [
                {"service": b.service, "remaining": b.remaining, "problem": b.problem}
                for b in assessment.budgets
            ],
        },
        "decision": {
            "open": decision.open,
            "reasons": [{"code": r.code, "message": r.message} for r in decision.reasons],
            "next_steps": [
                {"text": step.text, "command": step.command} for step in next_steps(outcome)
            ],
        },
        "approvals": {
            "source": outcome.approval_source,
            "base_ref": outcome.base_ref,
            "base_commit": outcome.base_commit,
            "rules_from_base": outcome.rules_from_base,
            "notes": list(outcome.approval_notes),
            "required": decision.required_approvals,
            "required_groups": list(decision.required_groups),
            "counted_approvers": list(decision.approvers),
            "present": [
                {
                    "approver": a.approver,
                    "decision": a.decision,
                    "counts": a.counts,
                    "why_not": a.why_not,
                    "source": a.source,
                    "groups": list(a.groups),
                    "reason": a.reason,
                    "created_at": a.created_at.isoformat() if a.created_at else None,
                }
                for a in outcome.approvals
            ],
        },
        "ticket": {
            "key": outcome.ticket.key if outcome.ticket else None,
            "source": outcome.ticket.source if outcome.ticket else None,
            "state": outcome.ticket.state if outcome.ticket else None,
            "url": outcome.ticket.url if outcome.ticket else None,
            "problem": outcome.ticket_problem,
        },
        "change": {
            "id": outcome.record.id,
            "author": outcome.author,
            "commit": outcome.commit,
            "plan": str(outcome.plan) if outcome.plan else None,
        },
        "policy_violations": [
            {
                "policy": v.policy,
                "pack": v.pack,
                "enforcement": v.enforcement,
                "severity": v.severity,
                "urn": v.urn,
                "message": v.message,
            }
            for v in changeset.policy_violations
        ],
        "diagnostics": [
            {"severity": d.severity, "urn": d.urn, "message": d.message}
            for d in changeset.diagnostics
            if d.severity in {"error", "warning"}
        ],
        "steps": [
            {
                "urn": r.change.urn,
                "type": r.change.type,
                "name": r.change.name,
                "op": r.change.op,
                "ops": list(r.change.ops),
                "points": round(r.step.points, 1),
                "class": r.step.class_name,
                "protect": r.change.protect,
                "rules": list(r.rules),
                "changed_paths": list(r.change.changed_paths),
                "replace_reasons": list(r.change.replace_reasons),
            }
            for r in risky_first(outcome)
        ],
    }


# -- Markdown ----------------------------------------------------------------------------


def md(text: str, limit: int = 300) -> str:
    """Untrusted text made inert in Markdown and kept to one table cell."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _code(text: str, limit: int = 120) -> str:
    flat = " ".join(text.replace("`", "'").split())
    return f"`{flat[: limit - 1] + '…' if len(flat) > limit else flat}`"


_OP_ORDER = ("delete", "replace", "update", "create", "import", "read", "same")


def _summary_table(summary: dict[str, int]) -> list[str]:
    ordered = sorted(
        summary.items(),
        key=lambda kv: (_OP_ORDER.index(kv[0]) if kv[0] in _OP_ORDER else -1, kv[0]),
    )
    rows = ["| op | resources |", "|---|---:|"]
    rows += [f"| {md(op)} | {count} |" for op, count in ordered]
    return rows


def _step_row(risky: RiskyStep) -> str:
    change = risky.change
    return (
        f"| {risky.step.points:.0f} | {md(change.op)} | {_code(change.type, 60)} "
        f"| {md(change.name, 80)} | {md(risky.paths(), 200)} | {md(risky.flags('🔒'))} |"
    )


def _next_step(step: NextStep) -> str:
    # Our own words, not preview data: only the command needs fencing.
    return f"- {step.text}" + (f" `{step.command.replace('`', '')}`" if step.command else "")


def base_line(outcome: GateOutcome) -> str:
    """Where the rules and approvers came from, with the commit, so a reader can check it."""
    if outcome.base_ref is None:
        return "Base: none (no origin/main or main); rules from the working tree"
    at = f"{outcome.base_ref} at {outcome.base_commit or 'an unresolved commit'}"
    if outcome.rules_from_base:
        return f"Base: {at}; rules and approvers from there"
    return f"Base: {at} (approvers); rules from the working tree (no --base-ref)"


def _headline(outcome: GateOutcome) -> str:
    assessment, decision = outcome.assessment, outcome.decision
    groups = decision.required_groups
    ticket = md(outcome.ticket.key) if outcome.ticket else "none"
    return (
        f"**Risk {assessment.level.upper()}** (score {assessment.score}/100, "
        f"{assessment.tier} tier) · change type **{assessment.change_type}** · approvals "
        f"{len(decision.approvers)}/{decision.required_approvals}"
        + (f" incl. group {', '.join(groups)}" if groups else "")
        + f" · ticket {ticket} · digest `{outcome.changeset.digest}`"
    )


def gate_markdown(outcome: GateOutcome, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: verdict, summary, why, what to do, then the steps, risky first."""
    changeset, assessment, decision = outcome.changeset, outcome.assessment, outcome.decision
    verdict = "✅ open" if decision.open else "⛔ closed"
    head = [
        f"## Change gate {verdict}: {md(changeset.stack)}",
        "",
        _headline(outcome),
        "",
        md(base_line(outcome)),
        "",
        *_summary_table(changeset.summary),
        "",
        "### Why the gate is " + ("open" if decision.open else "closed"),
        *[f"- **{md(r.code)}**: {md(r.message, 600)}" for r in decision.reasons],
        "",
        "### What to do next",
        *[_next_step(step) for step in next_steps(outcome)],
        "",
        "### Risk factors",
        "| rule | points | why |",
        "|---|---:|---|",
        *[f"| {md(f.rule)} | {f.points} | {md(f.explanation, 600)} |" for f in assessment.factors],
    ]
    notes = (*assessment.notes, *outcome.approval_notes)
    if outcome.ticket_problem:
        notes = (*notes, outcome.ticket_problem)
    if notes:
        head += ["", *[f"> {md(note, 600)}" for note in notes]]
    if changeset.policy_violations:
        head += ["", "### Policy violations"]
        head += [
            f"- {md(v.enforcement)} {md(v.pack)}/{md(v.policy)} on "
            f"{md(v.urn or 'the stack', 200)}: {md(v.message)}"
            for v in changeset.policy_violations[:20]
        ]
        if len(changeset.policy_violations) > 20:
            head.append(f"- … and {len(changeset.policy_violations) - 20} more")
    text = "\n".join(head) + "\n"
    steps = risky_first(outcome)
    problem = preview_problem(outcome)
    if problem is not None:  # never "No resource changes": nobody knows what they are
        text += f"\nThe resource changes are {problem}" + (
            "; below are only the steps it reported.\n" if steps else " (see above).\n"
        )
    if not steps:
        return text if problem is not None else text + "\nNo resource changes.\n"
    return _with_steps(text, steps, limit)


def _with_steps(text: str, steps: list[RiskyStep], limit: int) -> str:
    """``text`` and the table of ``steps``, riskiest first, kept under ``limit``."""
    table = [
        "",
        "### Steps, riskiest first",
        "| points | op | type | name | changed | flags |",
        "|---:|---|---|---|---|---|",
    ]
    budget = limit - len(text) - 1_500  # room for the table head and the summary of the rest
    shown = 0
    for risky in steps:
        row = _step_row(risky)
        if budget - len(row) - 1 < 0:
            break
        table.append(row)
        budget -= len(row) + 1
        shown += 1
    if shown < len(steps):
        rest = Counter(f"{r.change.op} {r.change.type}" for r in steps[shown:])
        common = ", ".join(f"{count}× {md(kind)}" for kind, count in rest.most_common(10))
        table.append(
            f"\n… and {len(steps) - shown} more steps not shown (mostly {common}); "
            "see `--format json`."
        )
    document = text + "\n".join(table) + "\n"
    return document if len(document) <= limit else document[: limit - 20] + "\n…(truncated)\n"
