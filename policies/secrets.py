"""Recognise plaintext secrets in values that should only ever reference a secret."""

from __future__ import annotations

import math
import re
from collections import Counter

# Names that say "this is a credential". Matched on word parts, so MM_SQLSETTINGS_DATASOURCE
# is not a match but MM_EMAILSETTINGS_SMTPPASSWORD and GITLAB_TOKEN are.
_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|"
    r"AUTH_?KEY|SIGNING_?KEY|ENCRYPT\w*KEY|SALT|DSN|DATASOURCE)",
    re.IGNORECASE,
)

_SECRET_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
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
