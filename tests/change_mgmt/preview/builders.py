"""Build previews in the real ``pulumi preview --json`` and event-stream shapes."""

from __future__ import annotations

import json
from typing import Any

PROJECT = "sre-platform"


def urn(stack: str, type_: str, name: str, parent_type: str | None = None) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{stack}::{PROJECT}::{qualified}::{name}"


def state(
    urn_: str, type_: str, inputs: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"urn": urn_, "custom": True, "type": type_, "inputs": inputs or {}, **extra}


def step(
    op: str,
    type_: str,
    name: str,
    *,
    stack: str = "prod",
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    protect: bool = False,
    dependencies: list[str] | None = None,
    replace_reasons: list[str] | None = None,
    detailed: dict[str, str] | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    """One ``--json`` step; ``old``/``new`` are input dicts (None: that state is absent)."""
    u = urn(stack, type_, name)
    extra: dict[str, Any] = {"protect": protect} if protect else {}
    if dependencies:
        extra["dependencies"] = dependencies
    if parent:
        extra["parent"] = parent
    result: dict[str, Any] = {"op": op, "urn": u}
    if old is not None:
        result["oldState"] = state(u, type_, old, **extra)
    if new is not None:
        result["newState"] = state(u, type_, new, **extra)
    if replace_reasons:
        result["replaceReasons"] = replace_reasons
    if detailed is not None:
        result["detailedDiff"] = {
            path: {"kind": kind, "inputDiff": True} for path, kind in detailed.items()
        }
        result["diffReasons"] = sorted({path.split(".")[0].split("[")[0] for path in detailed})
    else:
        result["detailedDiff"] = None
    return result


def preview_json(
    *steps: dict[str, Any], duration: int = 1_000_000, change_summary: dict[str, int] | None = None
) -> str:
    """A ``--json`` document; ``change_summary`` counts what the steps leave out (a real
    preview of a stack always counts its resources, ``same`` ones included)."""
    summary = change_summary or {}
    return json.dumps(
        {"steps": list(steps), "duration": duration, "changeSummary": summary}, indent=4
    )


def as_events(
    *steps: dict[str, Any],
    resource_changes: dict[str, int] | None = None,
    result: str | None = None,
    summary: bool = True,
    extra: list[dict[str, Any]] | None = None,
) -> str:
    """The same steps as an engine event log (``old``/``new``, ``keys``, ``diffKind``).

    The log ends with the engine's ``summaryEvent`` (counting ``resource_changes``, with
    ``result`` when given) unless ``summary`` is false; ``extra`` events (policy events,
    diagnostics) come before it.
    """
    lines = [{"sequence": 0, "timestamp": 1, "preludeEvent": {"config": {}}}]
    for index, s in enumerate(steps, start=1):
        metadata: dict[str, Any] = {"op": s["op"], "urn": s["urn"], "provider": ""}
        if "oldState" in s:
            metadata["old"] = s["oldState"]
        if "newState" in s:
            metadata["new"] = s["newState"]
        if "replaceReasons" in s:
            metadata["keys"] = s["replaceReasons"]
        if s.get("diffReasons"):
            metadata["diffs"] = s["diffReasons"]
        if s.get("detailedDiff"):
            metadata["detailedDiff"] = {
                path: {"diffKind": d["kind"], "inputDiff": True}
                for path, d in s["detailedDiff"].items()
            }
        lines.append(
            {
                "sequence": index * 7,
                "timestamp": 100 + index,
                "resourcePreEvent": {"metadata": metadata, "planning": True},
            }
        )
    lines.extend(extra or ())
    if summary:
        summary_event: dict[str, Any] = {
            "maybeCorrupt": False,
            "durationSeconds": 3,
            "resourceChanges": resource_changes or {},
        }
        if result is not None:
            summary_event["result"] = result
        lines.append({"sequence": 999, "timestamp": 200, "summaryEvent": summary_event})
    return "\n".join(json.dumps(line) for line in lines) + "\n"
