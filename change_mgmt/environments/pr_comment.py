"""The environment-request pull request's comment: one Markdown document.

For each request the pull request adds or changes: its validation, what its stack
program declares (under Pulumi mocks, as ``sre env render``), its monthly cost and the
policy pack's findings (as ``sre policy check``); each deleted one is listed as going
to be destroyed by the reaper. The sticky-comment action posts it and keeps it updated;
its hidden marker is the action's, not ours.

Every value from a request file is untrusted text in someone else's pull request: it is
escaped so it can neither format the comment nor mention anyone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import REQUESTS_DIR, display_path, validate_requests
from change_mgmt.environments.changes import RequestChanges
from change_mgmt.environments.request import format_expiry
from policies.config import CONFIG_FILE, PACK_DIR, load_config

# GitHub refuses comments over 65,536 characters; the rest is the action's marker.
MAX_CHARS = 60_000
MAX_RESOURCES_LISTED = 60
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md(text: object) -> str:
    """``text`` as literal Markdown: one line, no formatting, links, HTML or mentions."""
    line = " ".join(str(text).split())
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", line.replace("&", "&amp;"))
    return line.replace("<", "&lt;").replace("@", "&#64;")


def code(text: object) -> str:
    """``text`` as one inline code span (no Markdown inside one; a table's ``|`` and a
    backtick, which would end the span, are neutralised)."""
    line = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{line}`"


@dataclass(frozen=True)
class RequestSection:
    name: str
    change: str
    summary_row: str
    body: str
    details: str = ""


def _policy_lines(report: object) -> tuple[str, list[str]]:
    from policies.evaluate import PolicyReport

    assert isinstance(report, PolicyReport)
    blocking = len(report.blocking)
    verdict = (
        f"❌ {blocking} mandatory" if blocking else f"✅ passed ({len(report.findings)} finding(s))"
    )
    lines = []
    for finding in report.findings:
        level = "waived" if finding.waiver else finding.enforcement
        lines.append(
            f"- **{md(level)}** {code(finding.rule.id)}: {md(finding.message)}"
            + (f" — {md(finding.rule.remediation)}" if finding.rule.remediation else "")
        )
    return verdict, lines


def _rendered_section(project_dir: Path, name: str, change: str) -> RequestSection:
    from change_mgmt.environments.render import PolicyRefused, RenderError, render_environment
    from change_mgmt.policy_check import refusal_report
    from policies.evaluate import load_settings

    shown = code(name)
    try:
        rendered = render_environment(project_dir, name)
    except PolicyRefused as exc:
        settings = load_settings(project_dir / PACK_DIR, shown_dir=PACK_DIR)
        source = (REQUESTS_DIR / f"{name}.yaml").as_posix()
        report = refusal_report(f"env-{name}", source, exc, settings)
        verdict, lines = _policy_lines(report)
        body = "The stack program refused the request:\n\n" + "\n".join(lines)
        return RequestSection(name, change, f"| {shown} | {change} | ✅ | — | {verdict} |", body)
    except (RenderError, DocumentError) as exc:
        body = f"The stack program could not be evaluated: {md(exc)}"
        return RequestSection(name, change, f"| {shown} | {change} | ✅ | — | ⚠️ error |", body)
    request = rendered.request
    cost = rendered.cost
    money = f"{cost.table.currency} {cost.monthly_total:,.2f}"
    verdict, findings = _policy_lines(rendered.policy)
    protected = sum(1 for r in rendered.resources if r.protect)
    body_lines = [
        md(request.purpose),
        "",
        f"owner {md(request.owner)} · team {md(request.team)} · size {code(request.size)} · "
        f"expires {format_expiry(request.expires_at)}",
        "",
        f"**Declares** {len(rendered.resources)} resources"
        + (f" ({protected} protected)" if protected else "")
        + " (stack program under Pulumi mocks; not a `pulumi preview`).",
        "",
        f"**Cost**: {money} / month ({md(cost.table.region)}, prices as of "
        f"{md(cost.table.as_of)})"
        + (f"; not priced: {len(cost.unpriced)} resource(s)" if cost.unpriced else ""),
        "",
        f"**Policy pack**: {verdict}",
        *findings,
    ]
    listed = rendered.resources[:MAX_RESOURCES_LISTED]
    rows = [f"| {code(r.name)} | {code(r.type)} |" for r in listed]
    more = len(rendered.resources) - len(listed)
    details = (
        f"<details><summary>{len(rendered.resources)} resources of env-{md(name)}</summary>\n\n"
        "| name | type |\n|---|---|\n" + "\n".join(rows)
        + (f"\n\n… and {more} more ({code('sre env render ' + name)})" if more else "")
        + "\n\n</details>"
    )  # fmt: skip
    row = f"| {shown} | {change} | ✅ | {money} | {verdict} |"
    return RequestSection(name, change, row, "\n".join(body_lines), details)


def _invalid_section(name: str, change: str, problems: list[str]) -> RequestSection:
    body = "**Invalid**; fix these (`sre env validate`):\n\n" + "\n".join(
        f"- {code(p)}" for p in problems
    )
    return RequestSection(name, change, f"| {code(name)} | {change} | ❌ | — | — |", body)


def comment_markdown(
    project_dir: Path,
    changes: RequestChanges,
    *,
    now: datetime,
    progress: Callable[[str], None] = lambda name: None,
) -> str:
    """The comment for ``changes``: a table, then one section per request."""
    requests_dir = project_dir / REQUESTS_DIR
    policy = load_config(
        project_dir / PACK_DIR / CONFIG_FILE, shown_path=f"{PACK_DIR}/{CONFIG_FILE}"
    )
    kinds = dict.fromkeys(changes.added, "added") | dict.fromkeys(changes.modified, "modified")
    paths = [requests_dir / f"{name}.yaml" for name in changes.deployable]
    report = validate_requests(
        paths,
        all_requests=sorted(requests_dir.glob("*.yaml")),
        base=project_dir,
        now=now,
        is_new_or_changed={p.resolve() for p in paths},
        policy=policy,
    )
    problems: dict[str, list[str]] = {}
    for problem in report.problems:
        problems.setdefault(problem.path, []).append(str(problem))
    sections: list[RequestSection] = []
    for name, path in zip(changes.deployable, paths, strict=True):
        progress(name)
        shown = display_path(path, project_dir)
        if shown in problems:
            sections.append(_invalid_section(name, kinds[name], problems[shown]))
        else:
            sections.append(_rendered_section(project_dir, name, kinds[name]))
    for name in changes.deleted:
        row = f"| {code(name)} | deleted | — | — | — |"
        body = f"Stack {code('env-' + name)} will be destroyed by the reaper after the merge."
        sections.append(RequestSection(name, "deleted", row, body))
    return _document(changes, sections)


def _document(changes: RequestChanges, sections: list[RequestSection]) -> str:
    head = [
        f"## Environment requests changed since {code(changes.since)}",
        "",
        f"Compared with {code(changes.base[:12])} (merge base). Generated by `sre env comment`.",
        "",
    ]
    if not sections:
        return "\n".join([*head, "No request was added, changed or deleted."]) + "\n"
    table = ["| request | change | valid | monthly cost | policy pack |", "|---|---|---|---|---|"]
    table += [s.summary_row for s in sections]

    def assemble(with_details: bool) -> str:
        parts = [*head, *table, ""]
        for s in sections:
            parts += [f"### {code(s.name)} ({md(s.change)})", "", s.body, ""]
            if with_details and s.details:
                parts += [s.details, ""]
        return "\n".join(parts)

    text = assemble(with_details=True)
    if len(text) > MAX_CHARS:
        text = assemble(with_details=False)
    if len(text) > MAX_CHARS:
        note = "\n\n… cut to fit a comment: run `sre env comment` locally for all of it.\n"
        text = text[: MAX_CHARS - len(note)] + note
    return text
