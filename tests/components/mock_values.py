"""Reading what a mock run recorded: values with secrets unwrapped, or only the plain parts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stacks.mock_engine import SecretValue


def plain(value: Any) -> Any:
    """``value`` with every secret unwrapped (to read what a Secret holds)."""
    if isinstance(value, SecretValue):
        return plain(value.value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def plain_strings(value: Any) -> Iterator[str]:
    """Every string (keys included) outside a SecretValue: where a leaked secret would be."""
    if isinstance(value, SecretValue):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from plain_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from plain_strings(item)
