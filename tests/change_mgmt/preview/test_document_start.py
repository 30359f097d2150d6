"""Finding where the preview document may start: every line that opens with ``{``."""

from __future__ import annotations

import re

import pytest

from change_mgmt.preview.parse import PreviewError, _line_starts_with_brace, parse_preview_json

# The definition the lazy scan must keep: a line start (after "\n" only) holding "{".
LINE_START_BRACE = re.compile(r"^\{", re.MULTILINE)

TEXTS = [
    "",
    "{",
    "{}\n{}",
    "  {\n{\n",
    "text\r\n{ after CRLF\n\n{\n  {indented\n",
    "a{b\n}{\n{",
    "\n\n\n{",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_scan_finds_exactly_the_line_starts_the_regex_finds(text: str) -> None:
    for position in range(len(text) + 1):
        expected = [m.start() for m in LINE_START_BRACE.finditer(text, position)]
        assert list(_line_starts_with_brace(text, position)) == expected, (text, position)


def test_the_scan_is_lazy_so_decoding_stops_at_the_first_document() -> None:
    starts = _line_starts_with_brace('{"steps": []}\n' + "{}\n" * 1000)
    assert next(starts) == 0
    assert next(starts) == len('{"steps": []}\n')


def test_a_second_document_several_lines_after_the_preview_is_still_found() -> None:
    text = '{"steps": []}\nUpdate plan written\n\n  indented\n{"steps": []}\n'
    with pytest.raises(PreviewError, match=r"<preview>:5: a second JSON document follows"):
        parse_preview_json(text)
