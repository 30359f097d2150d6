"""Records on any terminal width: a table when it fits, else one block per record.

Identifiers, times, levels and digests are never wrapped nor cut (rich's ``no_wrap``);
only fields marked ``prose`` may wrap, and only between words. When the table of every
field does not fit the console even with its prose wrapped, each record is printed as
its first field followed by ``header  value`` lines (values wrap between words there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.padding import Padding
from rich.table import Table


@dataclass(frozen=True)
class Field:
    key: str
    """The key of the field in each record (its text is rich markup, already escaped)."""
    header: str = ""
    """Shown as the column header or the line's label (default: the key, ``_`` → space)."""
    prose: bool = False
    """Free text that may wrap between words; any other field is shown whole or not at all."""
    justify: Literal["left", "right"] = "left"

    @property
    def label(self) -> str:
        return self.header or self.key.replace("_", " ")


def print_records(
    console: Console, fields: Sequence[Field], records: Sequence[Mapping[str, str]]
) -> None:
    """Print ``records`` as a table if it fits ``console``'s width, else as blocks.
    A field that is empty in every record is left out."""
    fields = [f for f in fields if any(record.get(f.key) for record in records)]
    if (
        _table(fields, records, prose_width=PROSE_MIN)
        .__rich_measure__(console, console.options)
        .maximum
        <= console.width
    ):
        console.print(_table(fields, records))
        return
    for index, record in enumerate(records):
        if index:
            console.print()
        _print_block(console, fields, record)


PROSE_MIN = 20
"""The narrowest a prose column may become before the records are printed as blocks."""


def _table(
    fields: Sequence[Field], records: Sequence[Mapping[str, str]], prose_width: int | None = None
) -> Table:
    """The records as a table; with ``prose_width``, prose columns have exactly that width
    (to measure the narrowest table that cuts nothing)."""
    table = Table(pad_edge=False)
    for field in fields:
        table.add_column(
            field.label,
            justify=field.justify,
            no_wrap=not field.prose,
            overflow="fold",
            width=prose_width if field.prose else None,
        )
    for record in records:
        table.add_row(*(record.get(field.key, "") for field in fields))
    return table


def _print_block(console: Console, fields: Sequence[Field], record: Mapping[str, str]) -> None:
    first, *rest = fields
    console.print(f"[bold]{record.get(first.key, '')}[/]", soft_wrap=False)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for field in rest:
        value = record.get(field.key, "")
        if value:
            grid.add_row(field.label, value)
    console.print(Padding(grid, (0, 0, 0, 2), expand=False))


def print_items(console: Console, marker: str, items: Sequence[str], *, indent: int = 2) -> None:
    """A list whose items wrap between words under their own first word, not the marker."""
    print_pairs(console, [(marker, item) for item in items], indent=indent)


def print_pairs(
    console: Console,
    pairs: Sequence[tuple[str, str]],
    *,
    indent: int = 2,
    justify: Literal["left", "right"] = "left",
) -> None:
    """Lines of a short label (never wrapped) and a text that wraps between words under
    itself, e.g. an amount and what it pays for."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, justify=justify)
    grid.add_column(overflow="fold")
    for label, text in pairs:
        grid.add_row(label, text)
    console.print(Padding(grid, (0, 0, 0, indent), expand=False))
