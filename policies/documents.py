"""Load our YAML documents safely and report every problem as ``PATH:LINE:COLUMN: field: message``.

Request files, risk policies, approval records and the pack's own settings and waivers
are written by people in pull requests: untrusted input. This loader refuses what a small
config document never needs and what can hurt a reader (anchors and aliases, custom tags,
duplicate keys, huge or binary files) and remembers where every value stands, so a
pydantic error can point at the exact line and column.

It lives in the policy pack because ``pulumi policy publish`` ships only ``policies/``:
the pack reads ``config.yaml`` and ``waivers.yaml`` with it and may import nothing from
the rest of the repository. ``change_mgmt.documents`` re-exports it for everyone else.
"""

from __future__ import annotations

import codecs
import difflib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policies.errors import SreError

Location = tuple[str | int, ...]
DOCUMENT_FIELD = "(document)"
# The pydantic error type a model raises for "this must be text" (besides pydantic's own
# ``string_type``): its message gets what YAML made of an unquoted value, and the quoting
# that fixes it.
TEXT_EXPECTED = "text_type"
TEXT_ERRORS = frozenset({"string_type", TEXT_EXPECTED})


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
    """A parsed YAML mapping plus the position of every key and value in it, and the text
    of every unquoted value (YAML 1.1 reads ``0420``, ``yes`` or ``17:00`` as numbers,
    booleans and the like: messages quote what the user wrote, not what YAML made of it)."""

    path: str
    data: dict[str, Any]
    value_marks: dict[Location, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Location, tuple[int, int]] = field(default_factory=dict)
    plain_text: dict[Location, str] = field(default_factory=dict)

    def written(self, location: Location) -> str | None:
        """The source text of the unquoted scalar at ``location``, if that is what it is."""
        return self.plain_text.get(tuple(location))

    def coerced(self, location: Location, value: Any) -> str | None:
        """``"0420"`` when YAML read the unquoted text ``0420`` at ``location`` as something
        other than text (here the number 272), else ``None``."""
        text = self.written(location)
        if text is None or isinstance(value, str):
            return None
        return text

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


_YAML_TAG = "tag:yaml.org,2002:"
_STR_TAG = f"{_YAML_TAG}str"
# Tags a mapping key may resolve to; the key is always taken as the text written.
_KEY_TAGS = frozenset(
    f"{_YAML_TAG}{kind}" for kind in ("str", "int", "float", "bool", "null", "timestamp")
)
_SHOWN_CHARS = 40
EXAMPLE_TIMESTAMP = "2026-12-01T09:00:00Z"


def _written_tag(tag: str) -> str:
    """A tag as the user wrote it: ``!!int``, not ``tag:yaml.org,2002:int``."""
    return f"!!{tag.removeprefix(_YAML_TAG)}" if tag.startswith(_YAML_TAG) else tag


def shorten(text: str, limit: int = _SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it really is."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _unreadable_scalar(node: ScalarNode, exc: BaseException) -> str:
    """Why a scalar PyYAML resolved but cannot build is refused, quoting what was written."""
    text = node.value
    kind = node.tag.removeprefix(_YAML_TAG)
    if kind == "timestamp":
        return (
            f"{shorten(text)} is not a real date and time ({_first_line(exc)}); "
            f"write it like {EXAMPLE_TIMESTAMP}"
        )
    digits = sum(ch.isdigit() for ch in text)
    if kind == "int" and digits > sys.get_int_max_str_digits():
        return (
            f"{text[:12]}… is a number of {digits} digits, too long to read; "
            "write it in quotes if it is text"
        )
    return f"cannot read {shorten(text)} as {kind}: {_first_line(exc)}"


class _Builder:
    """Turns a composed node tree into plain Python values, recording positions.

    Problems with single values (a date that does not exist, a number too long to
    read) are collected, each at its own line and field, so one run names all of them.
    """

    def __init__(self, loader: _StrictLoader, document: LoadedDocument) -> None:
        self.loader = loader
        self.document = document
        self.problems: list[Problem] = []

    def build(self, node: Node, location: Location) -> Any:
        self.document.value_marks[location] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, location)
        if isinstance(node, SequenceNode):
            if node.tag != f"{_YAML_TAG}seq":
                raise _Refused(f"unsupported tag {_written_tag(node.tag)}", node.start_mark)
            return [self.build(item, (*location, i)) for i, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            return self._scalar(node, location)
        raise _Refused("unsupported YAML node", node.start_mark)

    def _scalar(self, node: ScalarNode, location: Location) -> Any:
        if node.tag not in (_STR_TAG, self._implicit_tag(node)):
            # Only what YAML infers from the text is built: an explicit tag (!!timestamp
            # foo, !!int x, !!python/...) would hand constructors text they cannot take.
            message = f"unsupported tag {_written_tag(node.tag)}; write the value without it"
            self.problems.append(self.document.problem(location, message))
            return node.value
        if node.style is None:
            self.document.plain_text[location] = node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as exc:  # every constructor failure is a problem of the input
            self.problems.append(self.document.problem(location, _unreadable_scalar(node, exc)))
            return node.value

    def _implicit_tag(self, node: ScalarNode) -> str:
        if node.style is not None:
            return _STR_TAG
        return str(self.loader.resolve(ScalarNode, node.value, (True, False)))  # type: ignore[no-untyped-call]

    def _mapping(self, node: MappingNode, location: Location) -> dict[str, Any]:
        if node.tag != f"{_YAML_TAG}map":
            raise _Refused(f"unsupported tag {_written_tag(node.tag)}", node.start_mark)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == f"{_YAML_TAG}merge":
                raise _Refused(
                    "keys must be plain strings (no merge keys or complex keys)",
                    key_node.start_mark,
                )
            if key_node.tag not in _KEY_TAGS:
                raise _Refused(f"unsupported tag {_written_tag(key_node.tag)}", key_node.start_mark)
            # A key is the text written: `0420:` is "0420", `2026-02-30:` is no date to build.
            key = key_node.value
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


_TEXT_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _other_text_encoding(raw: bytes) -> str | None:
    """ "UTF-16" or "UTF-32" when ``raw`` is text in that encoding (by its byte order
    mark, or by the NUL byte of every other byte that ASCII text in UTF-16 has)."""
    for bom, name in _TEXT_ENCODINGS:
        if raw.startswith(bom):
            return name
    sample = raw[:512]
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 4 and ((all(even) and not any(odd)) or (all(odd) and not any(even))):
        return "UTF-16"
    return None


def _unclosed_quote(text: str, error_index: int) -> tuple[int, int, str] | None:
    """The line, column and quote character of a quoted value that runs on over lines
    up to ``error_index``: an unclosed quote, reported where it opens, not where YAML
    gave up."""
    last: tuple[int, int, str] | None = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index >= error_index:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ('"', "'")
                and token.end_mark.line > token.start_mark.line
            ):
                last = (token.start_mark.line + 1, token.start_mark.column + 1, token.style)
    except yaml.YAMLError:
        pass
    return last


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, int, int]:
    """What a syntax error is and where (message, line, column), pointing at the opening
    of an unclosed quote rather than where YAML gave up."""
    context = exc.context or ""
    if context.startswith("while scanning a quoted scalar") and exc.context_mark:
        mark = exc.context_mark
        message = f"this quoted value is never closed ({exc.problem}); close the quote"
        return message, mark.line + 1, mark.column + 1
    found = exc.problem_mark or exc.context_mark
    line, column = (found.line + 1, found.column + 1) if found else (1, 1)
    message = f"not valid YAML: {exc.problem or exc.context or 'syntax error'}"
    quote = _unclosed_quote(text, found.index) if found else None
    if quote:
        q_line, q_column, char = quote
        message = (
            f"the quoted value that starts here runs on to line {line} ({message}); "
            f"is its closing {char} missing?"
        )
        return message, q_line, q_column
    return message, line, column


def _document_problem(shown: str, message: str, line: int = 1, column: int = 1) -> DocumentError:
    return DocumentError([Problem(shown, line, column, DOCUMENT_FIELD, message)])


def _read_text(path: Path, shown: str, max_bytes: int) -> str:
    """The file's text, refusing what is too big, not text, not UTF-8 or empty."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _document_problem(
                shown, f"file is {size} bytes; a document of this kind is at most {max_bytes} bytes"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise _document_problem(shown, f"cannot read file: {exc.strerror or exc}") from None
    encoding = _other_text_encoding(raw)
    if encoding:
        raise _document_problem(shown, f"file is {encoding} text; save it as UTF-8")
    if b"\x00" in raw:
        raise _document_problem(
            shown, "file is binary (contains NUL bytes); expected UTF-8 YAML text"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _document_problem(
            shown, f"file is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    if not text.strip():
        raise _document_problem(shown, "file is empty; expected a YAML mapping of fields")
    return text


def load_yaml_mapping(
    path: Path, *, display_path: str | None = None, max_bytes: int = 64 * 1024
) -> LoadedDocument:
    """Read ``path`` as one YAML mapping; raise ``DocumentError`` naming file, line and column.

    Nothing else is ever raised: every value PyYAML cannot build (a date that does not
    exist, a number too long for Python) is a problem at its own line and field.
    """
    shown = display_path or str(path)

    def fail(message: str, line: int = 1, column: int = 1) -> DocumentError:
        return _document_problem(shown, message, line, column)

    text = _read_text(path, shown, max_bytes)
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
        builder = _Builder(loader, document)
        document.data = builder.build(node, ())
        if builder.problems:
            raise DocumentError(builder.problems)
    except _Refused as refused:
        raise fail(refused.message, refused.mark.line + 1, refused.mark.column + 1) from None
    except yaml.MarkedYAMLError as exc:
        raise fail(*_syntax_problem(exc, text)) from None
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
            value = item.get("input")
            written = document.coerced(location, value)
            read_as = _read_as(written, value)
            if kind in TEXT_ERRORS and written is not None:
                message += f"; {read_as}: {_quoting_advice(written)}"
            elif kind == "dict_type":
                found = type(value).__name__
                message = f"expected a mapping of KEY: value lines, found {found}"
            elif kind.startswith(("datetime", "timezone")):
                if written is not None and not isinstance(value, date):
                    message += f"; {read_as}"
                message += f"; write it like {EXAMPLE_TIMESTAMP} (UTC)"
            problems.append(document.problem(location, message))
    return problems


def _read_as(written: str | None, value: Any) -> str:
    if not written:
        return "no value is written"
    return f"YAML reads {shorten(written)} as {_described(value, written)}"


def _quoting_advice(written: str) -> str:
    if not written:
        return 'write "" for empty text'
    return f"write it in quotes, e.g. {json.dumps(shorten(written))}"


def _described(value: Any, written: str) -> str:
    """What YAML 1.1 made of the unquoted text ``written``, in the user's terms."""
    if value is None:
        return "no value (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        number = str(value)
        return "a number" if number == written else f"the number {shorten(number, 20)}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


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
