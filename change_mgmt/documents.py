"""Load our YAML documents safely and report every problem as ``PATH:LINE:COLUMN: field: message``.

Request files, and later risk policies and approval records, are written by people in
pull requests: untrusted input. This loader refuses what a small config document never
needs and what can hurt a reader (anchors and aliases, custom tags, duplicate keys,
huge or binary files) and remembers where every value stands, so a pydantic error can
point at the exact line and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from change_mgmt.errors import SreError

Location = tuple[str | int, ...]
DOCUMENT_FIELD = "(document)"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one document, where it is and how to fix it."""

    path: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.field}: {self.message}"

    def as_dict(self) -> dict[str, str | int]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }


class DocumentError(SreError):
    """A document is unreadable or invalid; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class LoadedDocument:
    """A parsed YAML mapping plus the position of every key and value in it."""

    path: str
    data: dict[str, Any]
    value_marks: dict[Location, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Location, tuple[int, int]] = field(default_factory=dict)

    def position(self, location: Location) -> tuple[int, int]:
        """Line and column (1-based) of the value at ``location``, or its nearest ancestor."""
        loc = tuple(location)
        while loc:
            if loc in self.value_marks:
                return self.value_marks[loc]
            loc = loc[:-1]
        return self.value_marks.get((), (1, 1))

    def key_position(self, location: Location) -> tuple[int, int]:
        return self.key_marks.get(tuple(location), self.position(location[:-1]))

    def problem(self, location: Location, message: str, *, at_key: bool = False) -> Problem:
        line, column = self.key_position(location) if at_key else self.position(location)
        return Problem(self.path, line, column, field_name(location), message)


def field_name(location: Iterable[str | int]) -> str:
    """``("env", "FOO")`` → ``env.FOO``; list indexes as ``labels[0]``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or DOCUMENT_FIELD


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases (no alias bombs, no hidden sharing)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(
                "anchors and aliases (&, *) are not allowed; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node tree into plain Python values, recording positions."""

    def __init__(self, loader: _StrictLoader, document: LoadedDocument) -> None:
        self.loader = loader
        self.document = document

    def build(self, node: Node, location: Location) -> Any:
        self.document.value_marks[location] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, location)
        if isinstance(node, SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise _Refused(f"unsupported tag {node.tag!r}", node.start_mark)
            return [self.build(item, (*location, i)) for i, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                raise _Refused(
                    f"cannot read this value: {_first_line(exc)}", node.start_mark
                ) from None
        raise _Refused("unsupported YAML node", node.start_mark)

    def _mapping(self, node: MappingNode, location: Location) -> dict[str, Any]:
        if node.tag not in ("tag:yaml.org,2002:map",):
            raise _Refused(f"unsupported tag {node.tag!r}", node.start_mark)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(
                    "keys must be plain strings (no merge keys or complex keys)",
                    key_node.start_mark,
                )
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                first = self.document.key_marks[(*location, key)]
                raise _Refused(
                    f"duplicate key {key!r} (first defined on line {first[0]})", key_node.start_mark
                )
            self.document.key_marks[(*location, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*location, key))
        return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_yaml_mapping(
    path: Path, *, display_path: str | None = None, max_bytes: int = 64 * 1024
) -> LoadedDocument:
    """Read ``path`` as one YAML mapping; raise ``DocumentError`` naming file, line and column."""
    shown = display_path or str(path)

    def fail(message: str, line: int = 1, column: int = 1) -> DocumentError:
        return DocumentError([Problem(shown, line, column, DOCUMENT_FIELD, message)])

    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise fail(
                f"file is {size} bytes; a document of this kind is at most {max_bytes} bytes"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise fail("file is binary (contains NUL bytes); expected UTF-8 YAML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"file is not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise fail("file is empty; expected a YAML mapping of fields")

    document = LoadedDocument(path=shown, data={})
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise fail("file holds no YAML document; expected a mapping of fields")
        if not isinstance(node, MappingNode):
            kind = "a list" if isinstance(node, SequenceNode) else "a single value"
            line, column = _mark(node)
            raise fail(f"expected a mapping of fields, found {kind}", line, column)
        document.data = _Builder(loader, document).build(node, ())
    except _Refused as refused:
        raise fail(refused.message, refused.mark.line + 1, refused.mark.column + 1) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise fail(
            f"not valid YAML: {exc.problem or exc.context or 'syntax error'}", line, column
        ) from None
    except yaml.YAMLError as exc:
        raise fail(f"not valid YAML: {_first_line(exc)}") from None
    except RecursionError:
        raise fail("document is nested too deeply") from None
    finally:
        loader.dispose()
    return document


def validation_problems(
    error: ValidationError, document: LoadedDocument, model: type[BaseModel]
) -> list[Problem]:
    """Map pydantic errors to positioned problems, with "did you mean" for misspelt keys."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        location: Location = tuple(item["loc"])
        kind = item["type"]
        message = item["msg"].removeprefix("Value error, ")
        if location and location[-1] == "[key]":
            problems.append(document.problem(location[:-1], f"invalid key: {message}", at_key=True))
        elif kind == "extra_forbidden":
            problems.append(
                document.problem(location, _unknown_field_message(location, model), at_key=True)
            )
        elif kind == "missing":
            problems.append(document.problem(location, "required field is missing"))
        else:
            if kind == "string_type" and isinstance(item.get("input"), int | float):
                message += f'; write it in quotes, e.g. "{item["input"]}"'
            elif kind == "dict_type":
                found = type(item.get("input")).__name__
                message = f"expected a mapping of KEY: value lines, found {found}"
            elif kind.startswith(("datetime", "timezone")):
                message += "; write it like 2026-12-01T09:00:00Z (UTC)"
            problems.append(document.problem(location, message))
    return problems


def _unknown_field_message(location: Location, model: type[BaseModel]) -> str:
    known = _known_fields(location[:-1], model)
    name = str(location[-1])
    message = "unknown field"
    if known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if close:
            return f"{message}; did you mean {close[0]!r}?"
        message += f"; allowed fields are {', '.join(sorted(known))}"
    return message


def _known_fields(parent: Location, model: type[BaseModel]) -> list[str]:
    """Field names (aliases where set) of the model found at ``parent``, if it is a model."""
    current: Any = model
    for part in parent:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = info.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []
