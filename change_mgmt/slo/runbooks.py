"""Where every generated alert's ``runbook_url`` points: a runbook in this repository.

By default the link is the repository-relative path (``docs/runbooks/slo-page.md``), which
GitHub and GitLab render from any checkout; with a repository URL
(``https://github.com/acme/sre-platform/blob/main``) it is absolute, so a page in the chat
channel links straight to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from change_mgmt.slo.fields import RUNBOOK_ANNOTATION
from change_mgmt.slo.model import Severity

RUNBOOK_DIRECTORY = "docs/runbooks"
SLO_RUNBOOKS: Mapping[Severity, str] = {"page": "slo-page.md", "ticket": "slo-ticket.md"}


@dataclass(frozen=True)
class RunbookLinks:
    repository_url: str | None = None
    """Base URL of this repository's files; ``None`` for repository-relative links."""

    def url(self, severity: Severity) -> str:
        path = f"{RUNBOOK_DIRECTORY}/{SLO_RUNBOOKS[severity]}"
        return f"{self.repository_url.rstrip('/')}/{path}" if self.repository_url else path

    def repository_path(self, url: str) -> str | None:
        """The repository path ``url`` links to, or ``None`` when it leads elsewhere."""
        path = url.split("#", 1)[0]
        if self.repository_url:
            base = self.repository_url.rstrip("/") + "/"
            if not path.startswith(base):
                return None
            path = path.removeprefix(base)
        return path if path.startswith(f"{RUNBOOK_DIRECTORY}/") else None


RELATIVE_LINKS = RunbookLinks()
"""The default: repository-relative links."""


def runbook_problems(
    groups: Iterable[Mapping[str, Any]], root: Path, links: RunbookLinks = RELATIVE_LINKS
) -> list[str]:
    """Every alert in ``groups`` (Prometheus rule groups) whose ``runbook_url`` is
    missing, leads outside ``docs/runbooks/`` or names a file ``root`` does not have."""
    problems = []
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            where = f"{group['name']}: alert {rule['alert']}"
            url = rule.get("annotations", {}).get(RUNBOOK_ANNOTATION)
            path = links.repository_path(url) if url else None
            if url is None:
                problems.append(f"{where} has no {RUNBOOK_ANNOTATION}")
            elif path is None:
                problems.append(f"{where}: {url} is not a runbook under {RUNBOOK_DIRECTORY}/")
            elif not (root / path).is_file():
                problems.append(f"{where}: runbook {path} does not exist")
    return problems
