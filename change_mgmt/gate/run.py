"""One run of the gate: preview → risk → change record → approvals → decision.

The library does the whole job here so that the CLI, CI and ``sre up`` share it; the
caller only says where the preview comes from and what time it is.
"""

from __future__ import annotations

import functools
import os
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from change_mgmt.approvals import GitApprovals
from change_mgmt.approvals.signers import APPROVERS_FILE
from change_mgmt.documents import DocumentError
from change_mgmt.evidence.gate import archive_gate_run
from change_mgmt.evidence.location import CONFIG_FILE as EVIDENCE_FILE
from change_mgmt.evidence.location import configured_location
from change_mgmt.gate.automation import run_preview
from change_mgmt.gate.decision import (
    Approval,
    ApprovalSource,
    GateDecision,
    TicketRef,
    decide,
)
from change_mgmt.gate.sources import (
    BASE_REF_ENV,
    LedgerApprovals,
    LedgerTickets,
    provenance,
    resolve_base,
)
from change_mgmt.gate.ticketing import TicketDesk
from change_mgmt.gate.trusted_files import TrustedFiles
from change_mgmt.gitops.sources import environment_from
from change_mgmt.ledger.records import ChangeRecord, ChangeState, IllegalTransitionError
from change_mgmt.ledger.store import Ledger
from change_mgmt.preview import ChangeSet, load_preview
from change_mgmt.principals import same_principal
from change_mgmt.risk.assess import AssessmentContext, RiskAssessment, assess
from change_mgmt.risk.calendar import FreezeCalendar, load_freeze_calendar
from change_mgmt.risk.error_budget import PrometheusErrorBudget
from change_mgmt.risk.gitops_targets import ClusterInventory, RegisteredCluster
from change_mgmt.risk.policy import REPOSITORY_POLICY_FILE, RiskPolicy, load_risk_policy
from change_mgmt.slo.load import SLO_DIRECTORY, load_catalog
from change_mgmt.tickets.content import TicketContext, pr_url_from_env
from change_mgmt.tickets.settings import plans_from_pr

PROMETHEUS_ENV = "SRE_PROMETHEUS_URL"
PLANS_DIR = Path(".sre") / "plans"


@dataclass(frozen=True)
class GateRequest:
    project_dir: Path
    stack: str
    now: datetime
    preview: Path | None = None
    events: Path | None = None
    emergency: bool = False
    reason: str | None = None
    author: str | None = None
    base_ref: str | None = None
    base_commit: str | None = None
    """The commit the base branch resolved to, printed so a reader can check it."""
    rules_from_base: bool = False
    """The risk policy and freeze calendar were read from the base (an explicit
    ``--base-ref`` or ``$SRE_BASE_REF``), not from the working tree."""
    """The protected base branch. Given (or ``$SRE_BASE_REF``): the risk policy, freeze
    calendar and approvers are read as they are there. Not given: the policy comes from
    the working tree and approvers from origin/main or main."""
    assess_at: datetime | None = None
    """Assess windows, freezes and budgets as of this moment instead of ``now`` (what-if);
    records still carry the real time."""


@dataclass(frozen=True)
class GateOutcome:
    changeset: ChangeSet
    assessment: RiskAssessment
    decision: GateDecision
    record: ChangeRecord
    approvals: tuple[Approval, ...]
    ticket: TicketRef | None
    author: str | None
    commit: str | None
    plan: Path | None
    approval_source: str = "ledger"
    """``git`` (signed records, verified against ``base_ref``) or ``ledger`` (local)."""
    approval_notes: tuple[str, ...] = ()
    base_ref: str | None = None
    base_commit: str | None = None
    """The commit the base branch resolved to, printed so a reader can check it."""
    rules_from_base: bool = False
    """The risk policy and freeze calendar were read from the base (an explicit
    ``--base-ref`` or ``$SRE_BASE_REF``), not from the working tree."""
    ticket_problem: str | None = None
    """Why no ticket could be found or created (the gate is then closed)."""


def plan_path(project_dir: Path, stack: str, digest: str) -> Path:
    """Where the plan of one gated preview is kept for ``pulumi up --plan``."""
    return project_dir / PLANS_DIR / stack.replace("/", "_") / f"{digest}.json"


def _changeset(request: GateRequest) -> tuple[ChangeSet, Path | None]:
    if request.preview is not None:
        return load_preview(request.preview, "json", stack=request.stack), None
    if request.events is not None:
        return load_preview(request.events, "events", stack=request.stack), None
    pending = request.project_dir / PLANS_DIR / f"pending-{os.getpid()}.json"
    changeset = run_preview(request.project_dir, request.stack, pending)
    if not pending.is_file():  # a failed preview saves no plan; the gate closes
        return changeset, None
    final = plan_path(request.project_dir, request.stack, changeset.digest)
    final.parent.mkdir(parents=True, exist_ok=True)
    pending.replace(final)
    return changeset, final


def _policy_and_freezes(files: TrustedFiles) -> tuple[RiskPolicy, FreezeCalendar | None]:
    policy = load_risk_policy(
        files.path(REPOSITORY_POLICY_FILE), display_path=files.display(REPOSITORY_POLICY_FILE)
    )
    name = policy.freeze_calendar
    path = files.path(name) if name else None
    if name is None or path is None:
        return policy, None
    return policy, load_freeze_calendar(path, display_path=files.display(name))


def _check_slo_ids(policy: RiskPolicy, project_dir: Path, prometheus: str | None) -> None:
    """Every SLO the policy's ``error_budget.slos`` names must be one of ``slos/``: a
    misspelt id would read no budget at all. Checked whenever the project has ``slos/``,
    and whenever budgets are read (a project without ``slos/`` then has no SLO to name).
    The specs come from the working tree, not the base branch: a change to them can only
    make this check fail (the gate then stops), never open the gate."""
    directory = project_dir / SLO_DIRECTORY
    if not (directory.is_dir() or (prometheus and policy.error_budget.slos)):
        return
    known: set[str] = set()
    if directory.is_dir():
        catalog = load_catalog([directory], relative_to=project_dir)
        known = {slo.id for slo, _ in catalog.slos()}
    problems = policy.unknown_slo_problems(known, SLO_DIRECTORY)
    if problems:
        raise DocumentError(problems)


def _cluster_inventory(files: TrustedFiles, environment: str) -> ClusterInventory | None:
    """The clusters Argo CD deploys to in this environment (``gitops/clusters/<env>.yaml``),
    read where the risk policy is read (the base branch in CI), so a change cannot hide
    how far it widens an application by editing the clusters too; None without GitOps
    files for the environment. An invalid file stops the gate (exit 2)."""
    found = environment_from(files, environment, missing_is_empty=True)
    if not found.clusters:
        return None
    return ClusterInventory(
        tuple(RegisteredCluster(c.name, c.server, dict(c.labels)) for c in found.clusters)
    )


def _assess(
    changeset: ChangeSet,
    policy: RiskPolicy,
    freezes: FreezeCalendar | None,
    request: GateRequest,
    clusters: ClusterInventory | None = None,
) -> RiskAssessment:
    """The assessment, with error budgets from Prometheus when one is configured. A what-if
    (``assess_at``) reads the budgets as they were at that moment."""
    url = os.environ.get(PROMETHEUS_ENV) or policy.error_budget.prometheus_url
    _check_slo_ids(policy, request.project_dir, url)
    with ExitStack() as stack:
        budgets = None
        if url:
            budgets = stack.enter_context(
                PrometheusErrorBudget(
                    url, at=request.assess_at, timeout=policy.error_budget.timeout_seconds
                )
            )
        return assess(
            changeset,
            policy,
            AssessmentContext(
                now=request.assess_at or request.now,
                emergency=request.emergency,
                emergency_reason=request.reason,
                budgets=budgets,
                freezes=freezes,
                clusters=clusters,
            ),
        )


def run_gate(request: GateRequest) -> GateOutcome:
    """Gate one preview of one stack; records the change and returns the decision."""
    project = request.project_dir
    explicit_base = request.base_ref or os.environ.get(BASE_REF_ENV) or None
    with TrustedFiles(project, explicit_base) as files:
        # The base branch's evidence.yaml; a bad setting stops before the preview runs.
        evidence_at = configured_location(
            files.path(EVIDENCE_FILE), shown_as=files.display(EVIDENCE_FILE)
        )
        changeset, plan = _changeset(request)
        policy, freezes = _policy_and_freezes(files)
        clusters = _cluster_inventory(files, changeset.short_stack)
    origin = provenance(project, request.author)
    assessment = _assess(changeset, policy, freezes, request, clusters)
    ledger = Ledger.for_repository(project)
    record = ledger.propose(
        changeset.stack,
        changeset.digest,
        risk_level=assessment.level,
        risk_score=assessment.score,
        change_type=assessment.change_type,
        author=origin.author,
        commit=origin.commit,
        summary=changeset.summary,
        emergency_reason=request.reason if request.emergency else None,
        review_due_at=request.now + timedelta(hours=policy.approvals.emergency_review_hours)
        if request.emergency
        else None,
        now=request.now,
        what_if=request.assess_at is not None,
    )
    resolved = resolve_base(project, explicit_base)
    base = resolved.name if resolved else None
    author = origin.author
    author_notes = _author_notes(author, record.author)
    kind, approvals, notes = _approvals(project, base, ledger, changeset, author, request.now)
    notes = (*author_notes, *notes)
    implementation, backout = plans_from_pr()
    with TicketDesk.from_env(project, ledger) as desk:
        desk.replay(now=request.now)  # deliver ticket updates earlier runs queued
        context = TicketContext(
            changeset=changeset,
            assessment=assessment,
            record=record,
            approvals=approvals,
            commit=origin.commit,
            pr_url=pr_url_from_env(),
            implementation_plan=implementation,
            backout_plan=backout,
        )
        found = desk.ticket_for(record, context)
        record = ledger.get(record.id)  # the ticket key may have been stored on it
        jsm, jsm_note = desk.jsm_approvals(
            found.ticket, record, counts=policy.approvals.count_jira_service_management
        )
        approvals = (*approvals, *jsm)
        link_note = desk.link(found.ticket, _links())
        notes = (*notes, *(note for note in (jsm_note, link_note) if note))
        decision = decide(
            changeset,
            assessment,
            approvals,
            found.ticket,
            emergency_reason=request.reason,
            author_known=author is not None,
        )
        ticket = found.ticket
        what_if = request.assess_at is not None  # a what-if never approves the record
        settled = functools.partial(
            GateOutcome,
            changeset=changeset,
            assessment=assessment,
            approvals=approvals,
            author=author,
            commit=origin.commit,
            plan=plan,
            approval_source=kind,
            approval_notes=notes,
            base_ref=base,
            base_commit=resolved.commit if resolved else None,
            rules_from_base=explicit_base is not None,
            ticket_problem=found.problem,
        )
        if evidence_at is not None and not what_if:  # before approving: it may close the gate
            decision, record = archive_gate_run(
                settled(decision=decision, record=record, ticket=ticket),
                ledger,
                now=request.now,
                location=evidence_at,
            )
        if decision.open and not what_if and record.state == ChangeState.proposed:
            record = _approve(ledger, record, now=request.now)
            desk.record_state(record, now=request.now)
            if ticket is not None and ticket.source == "local ledger":
                ticket = LedgerTickets().ticket_for(record)
    return settled(decision=decision, record=record, ticket=ticket)


def _approve(ledger: Ledger, record: ChangeRecord, *, now: datetime) -> ChangeRecord:
    """Move an open change to approved. A gate of the same change on another runner may
    have done so between our read and our write: then its record, as it now stands."""
    try:
        return ledger.transition(record.id, ChangeState.approved, now=now)
    except IllegalTransitionError:
        current = ledger.get(record.id)
        if current.state == ChangeState.proposed:
            raise
        return current


PR_URL_ENV = "SRE_PR_URL"
CI_RUN_URL_ENV = "SRE_CI_RUN_URL"


def _links() -> dict[str, str]:
    """Links to put on the ticket: the pull request and the CI run, when CI says them."""
    found = {
        "Pull request": os.environ.get(PR_URL_ENV, ""),
        "CI run": os.environ.get(CI_RUN_URL_ENV, ""),
    }
    return {title: url for title, url in found.items() if url.startswith(("https://", "http://"))}


def _author_notes(this_run: str | None, recorded: str | None) -> tuple[str, ...]:
    """Four eyes are checked against this run's author, never an earlier run's: the
    ledger keeps the author of the first run that proposed the change, and trusting it
    would let a gate run with another ``--author`` (or a stale local ledger) decide who
    may approve. A difference is shown."""
    if this_run is not None and recorded is not None and not same_principal(this_run, recorded):
        return (
            f"This run's author is {this_run}; the change was first recorded with author "
            f"{recorded}. Four eyes are checked against {this_run}.",
        )
    return ()


def _approvals(
    project: Path,
    base: str | None,
    ledger: Ledger,
    changeset: ChangeSet,
    author: str | None,
    now: datetime,
) -> tuple[str, tuple[Approval, ...], tuple[str, ...]]:
    """Signed git approvals when the base branch lists approvers, else the local ledger."""
    if base is not None:
        with TrustedFiles(project, base) as files:
            signed = files.path(APPROVERS_FILE) is not None
        if signed:
            report = GitApprovals(project, base).check(
                changeset.stack, changeset.digest, author=author, now=now
            )
            return "git", tuple(report.approvals()), report.notes
    where = f"No {APPROVERS_FILE} on {base}" if base else "No base branch (origin/main or main)"
    local: ApprovalSource = LedgerApprovals(ledger)
    note = (
        f"{where}: approvals come from the local ledger (unsigned, no groups); "
        f"add {APPROVERS_FILE} to the base branch for signed approvals."
    )
    return "ledger", tuple(local.approvals(changeset, author=author, now=now)), (note,)
