"""Recognise plaintext secrets in values that should only ever reference a secret."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from typing import Any

# Names that say "this is a credential". Matched on word parts, so MM_SQLSETTINGS_DATASOURCE
# is not a match but MM_EMAILSETTINGS_SMTPPASSWORD and GITLAB_TOKEN are.
_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|"
    r"AUTH_?KEY|SIGNING_?KEY|ENCRYPT\w*KEY|SALT|DSN|DATASOURCE)",
    re.IGNORECASE,
)

_SECRET_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    # PEM (RSA, EC, OPENSSH, ENCRYPTED ...) and OpenPGP ("PGP PRIVATE KEY BLOCK") armour.
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a URL with an embedded password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)

_MIN_RANDOM_LENGTH = 24
_MIN_BITS_PER_CHAR = 4.0


def _shannon_bits_per_char(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _looks_random(value: str) -> bool:
    """A long token of mixed character classes with high entropy: a key, not a word."""
    if len(value) < _MIN_RANDOM_LENGTH or any(ch.isspace() for ch in value):
        return False
    classes = sum(
        (
            any(ch.islower() for ch in value),
            any(ch.isupper() for ch in value),
            any(ch.isdigit() for ch in value),
        )
    )
    return classes >= 3 and _shannon_bits_per_char(value) >= _MIN_BITS_PER_CHAR


def literal_secret_kind(value: str) -> str | None:
    """What kind of credential the literal ``value`` looks like ("a GitHub token"), if any."""
    for what, pattern in _SECRET_VALUE_PATTERNS:
        if pattern.search(value):
            return what
    if _looks_random(value):
        return "a random key or token"
    return None


def plaintext_secret_problem(name: str, value: str) -> str | None:
    """Why the literal ``value`` of variable ``name`` looks like a secret, else ``None``."""
    for what, pattern in _SECRET_VALUE_PATTERNS:
        if pattern.search(value):
            return f"value looks like {what}; reference a Kubernetes Secret instead"
    if value and _SECRET_NAME.search(name):
        return (
            f"{name} names a credential but has a literal value; "
            "use {secret: <secret-name>, key: <key>} instead"
        )
    if _looks_random(value):
        return "value looks like a random key or token; reference a Kubernetes Secret instead"
    return None


Location = tuple[str | int, ...]


def literal_secret_problems(
    document: Mapping[str, Any], *, named_under: Collection[str] = ()
) -> Iterator[tuple[Location, bool, str]]:
    """Every credential-shaped literal in ``document``, in any field, key or list item:
    ``(location, at_key, why)``. Entries of the mappings in ``named_under`` (``env``) are
    judged by their name as well (``SMTP_PASSWORD: 12345678`` is a literal password,
    whatever YAML made of it). The literal itself is never part of ``why``."""
    yield from _walk(document, (), named_under)


_NOT_HERE = (
    "looks like {what}; a credential never belongs in this field: remove it (and revoke "
    "it if it was real and ever committed)"
)


def _walk(
    value: Any, at: Location, named_under: Collection[str]
) -> Iterator[tuple[Location, bool, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = (*at, key)
            if isinstance(key, str) and (what := literal_secret_kind(key)):
                yield where, True, "key " + _NOT_HERE.format(what=what)
            named = len(at) == 1 and at[0] in named_under and isinstance(key, str)
            scalar = isinstance(item, str | int | float)  # bool is an int
            if named and scalar and (problem := plaintext_secret_problem(key, str(item))):
                yield where, False, problem
            else:
                yield from _walk(item, where, named_under)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*at, index), named_under)
    elif isinstance(value, str) and (what := literal_secret_kind(value)):
        yield at, False, "value " + _NOT_HERE.format(what=what)
