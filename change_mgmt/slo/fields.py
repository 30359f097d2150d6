"""Validated values shared by Sloth's SLO specs and alert windows.

Each rule is one Sloth applies (names, objective range, ``{{.window}}`` in every query,
label and annotation names) or one that keeps generated series sound (``sloth_*`` labels
are the generator's; every alert's ``runbook_url`` points into this repository).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainValidator, Strict
from pydantic_core import PydanticCustomError

from change_mgmt.documents import TEXT_EXPECTED
from change_mgmt.slo.formats import parse_duration

NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")
"""Sloth's ``conventions.NameRegexp`` for services and SLO names."""
WINDOW_VARIABLE = re.compile(r"{{ *\.window *}}")
"""Sloth's ``TplSLIQueryWindowVarRegex``: where the window goes in an SLI query."""
_TEMPLATE_ACTION = re.compile(r"{{.*?}}", re.DOTALL)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABEL_PREFIX = "sloth_"
RUNBOOK_ANNOTATION = "runbook_url"


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: start and end with a letter or digit, "
            "and use only letters, digits, '.', '_' and '-'"
        )
    return value


def _objective(value: float) -> float:
    if not 0 < value <= 100:
        raise ValueError(f"objective {value} is outside (0, 100]: write a percentage like 99.5")
    return float(value)


def _window_query(value: str) -> str:
    if not WINDOW_VARIABLE.search(value):
        raise ValueError("the query must use the {{.window}} template variable, e.g. [{{.window}}]")
    for action in _TEMPLATE_ACTION.findall(value):
        if not WINDOW_VARIABLE.fullmatch(action):
            raise ValueError(f"{action} is not supported: {{{{.window}}}} is the only variable")
    return value


def _label_name(value: str) -> str:
    if not _LABEL_NAME.match(value) or value.startswith("__"):
        raise ValueError(
            f"{value!r} is not a Prometheus label name (letters, digits and '_', "
            "not starting with a digit or '__')"
        )
    if value.startswith(RESERVED_LABEL_PREFIX):
        raise ValueError(f"{value!r}: labels starting with 'sloth_' are set by the generator")
    return value


def _annotation_name(value: str) -> str:
    if not _LABEL_NAME.match(value):
        raise ValueError(f"{value!r} is not an annotation name (letters, digits and '_')")
    if value == RUNBOOK_ANNOTATION:
        raise ValueError(
            "runbook_url is set by the generator to this repository's docs/runbooks/; remove it"
        )
    return value


def _duration(value: Any) -> int:
    if not isinstance(value, str):
        raise PydanticCustomError(TEXT_EXPECTED, "must be a duration like 5m, 1h or 7d")
    try:
        milliseconds = parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None
    if milliseconds <= 0:
        raise PydanticCustomError("duration", "must be longer than 0")
    return milliseconds


def _refuse_plugins(value: Any) -> Any:
    raise ValueError(
        "Sloth plugins are not supported here (we do not run Sloth plugins); "
        "write the SLI as events or raw queries"
    )


Text = Annotated[str, Strict()]
SafeName = Annotated[str, Strict(), Field(min_length=1, max_length=128), AfterValidator(_name)]
Objective = Annotated[float, Strict(), AfterValidator(_objective)]
WindowQuery = Annotated[str, Strict(), Field(min_length=1), AfterValidator(_window_query)]
LabelName = Annotated[str, AfterValidator(_label_name)]
Labels = dict[LabelName, Annotated[str, Strict(), Field(min_length=1)]]
AnnotationName = Annotated[str, AfterValidator(_annotation_name)]
Annotations = dict[AnnotationName, Annotated[str, Strict(), Field(min_length=1)]]
Duration = Annotated[int, PlainValidator(_duration)]
"""A Prometheus duration, read into milliseconds."""
Percent = Annotated[float, Strict(), Field(gt=0, le=100)]
Refused = Annotated[Any, AfterValidator(_refuse_plugins)]
"""A Sloth plugin block: refused with one clear message wherever it appears."""
