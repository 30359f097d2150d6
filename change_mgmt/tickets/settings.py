"""The repository's Jira settings (``jira.yaml`` at its root), and plans from the PR.

::

    fields:                    # our name → the field's *name* on your site (null: none)
      change_risk: Risk of change
      test_plan: null
    transitions:               # change state → the workflow transition that reaches it
      approved: Approve
      applying: Start
      applied: Complete
      failed: Fail
      rolled_back: Roll back
    statuses:                  # change state → the status name the transition leads to
      approved: Approved

Every key is optional; what is not given keeps its default. The implementation and
backout plans come from the pull request's description (``$SRE_PR_BODY``, sections
headed "Implementation plan" and "Backout plan"), else from documented defaults.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from change_mgmt.documents import DocumentError, load_yaml_mapping, validation_problems
from change_mgmt.ledger.records import ChangeState
from change_mgmt.tickets.config import JiraFieldNames

SETTINGS_FILE = "jira.yaml"
PR_BODY_ENV = "SRE_PR_BODY"


class JiraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: JiraFieldNames = JiraFieldNames()
    transitions: dict[ChangeState, str] = Field(default_factory=dict)
    statuses: dict[ChangeState, str] = Field(default_factory=dict)


def load_jira_settings(path: Path | None, *, display_path: str | None = None) -> JiraSettings:
    """``jira.yaml`` (absent: every default), with file:line errors."""
    if path is None or not path.is_file():
        return JiraSettings()
    document = load_yaml_mapping(path, display_path=display_path)
    try:
        return JiraSettings.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, JiraSettings)) from None


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.+?)\s*#*\s*$", re.MULTILINE)


def plans_from_pr(body: str | None = None) -> tuple[str | None, str | None]:
    """The "Implementation plan" and "Backout plan" sections of a Markdown PR description."""
    text = os.environ.get(PR_BODY_ENV, "") if body is None else body
    sections: dict[str, str] = {}
    headings = list(_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        sections[heading.group(1).strip().casefold()] = text[heading.end() : end].strip()
    return (
        sections.get("implementation plan") or None,
        sections.get("backout plan") or sections.get("rollback plan") or None,
    )
