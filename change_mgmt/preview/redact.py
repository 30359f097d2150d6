"""Redaction: no secret value from a preview survives into a ChangeSet.

Three kinds of value are replaced by ``[secret]``:

* what Pulumi already marks secret: the string ``[secret]`` and the secret signature
  object ``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ...}``;
* values under keys that name a credential (``password``, ``dbToken``, ``privateKey``,
  ``client_secret``...; not ``secretName`` or ``kmsKeyId``, which only point at one);
* strings shaped like a credential wherever they are (private keys, AWS access key ids,
  tokens, URLs with an embedded password).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "[secret]"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270"

_CREDENTIAL_KEY = re.compile(
    r"(password|passwd|passphrase|secret|token|apikey|accesskey|privatekey|credential|"
    r"authkey|signingkey|encryptionkey|clientkey|connectionstring|dsn$)"
)
# Keys that name or point at a secret rather than hold one.
_POINTER_SUFFIX = re.compile(
    r"(name|names|id|ids|arn|arns|ref|refs|length|version|versions|type|path|ttl|"
    r"enabled|rotation|policy|count|expiry|expiration|duration|seconds|period)$"
)

# PEM private keys and OpenPGP armoured private keys ("PRIVATE KEY BLOCK").
_CREDENTIAL_SHAPES = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"
    r"|\bglpat-[A-Za-z0-9_-]{20,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
)
# user:password@ in a URL: keep the scheme, user and host, drop the password.
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(@)", re.IGNORECASE)
_NORMALIZE = re.compile(r"[^a-z0-9]")

# Every match of _CREDENTIAL_SHAPES is at least this long (``xox?-`` and ten more).
_SHORTEST_SHAPE = 15

# Far deeper than any resource's inputs (Helm values and CRDs nest a few dozen levels),
# shallow enough that walking a value never exhausts Python's stack.
MAX_DEPTH = 100


class NestedTooDeeply(ValueError):
    """A value nests more than MAX_DEPTH lists and objects: refused, not walked."""


@lru_cache(maxsize=4096)  # previews repeat the same few hundred property names
def is_credential_key(key: str) -> bool:
    """Whether a property name says its value is a credential."""
    normalized = _NORMALIZE.sub("", key.lower())
    return bool(_CREDENTIAL_KEY.search(normalized)) and not _POINTER_SUFFIX.search(normalized)


def is_secret_sigil(value: dict[str, Any]) -> bool:
    return value.get(SECRET_SIG_KEY) == SECRET_SIG_VALUE


def scrub_text(text: str) -> str:
    """``text`` with credential-shaped substrings replaced; for messages and free text."""
    if "://" in text and "@" in text:
        text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<2>", text)
    if len(text) >= _SHORTEST_SHAPE and _may_hold_a_shape(text):
        text = _CREDENTIAL_SHAPES.sub(REDACTED, text)
    return text


def _may_hold_a_shape(text: str) -> bool:
    """Whether ``text`` has the fixed part of one of the _CREDENTIAL_SHAPES.

    Most strings in a preview (names, ids, ARNs) have none, and these substring tests
    cost a fraction of the regular expression. Keep them in step with the pattern.
    """
    return (
        "-----BEGIN " in text
        or "AKIA" in text
        or "ASIA" in text
        or "gh" in text
        or "glpat-" in text
        or "xox" in text
        or "eyJ" in text
    )


def redact(value: Any) -> Any:
    """A copy of ``value`` (decoded JSON) with every secret replaced by ``[secret]``.

    Raises :class:`NestedTooDeeply` for values nested more than MAX_DEPTH levels.
    """
    return _redact(value, MAX_DEPTH)


def _redact(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        if SECRET_SIG_KEY in value and is_secret_sigil(value):
            return REDACTED
        if not depth:
            raise NestedTooDeeply(f"nested more than {MAX_DEPTH} levels deep")
        redacted: dict[str, Any] = {}
        for key, item in value.items():
            if is_credential_key(key):
                redacted[key] = _redact_credential(item)
            elif type(item) is str:  # the most common value: save a call
                redacted[key] = scrub_text(item)
            else:
                redacted[key] = _redact(item, depth - 1)
        return redacted
    if isinstance(value, list):
        if not depth:
            raise NestedTooDeeply(f"nested more than {MAX_DEPTH} levels deep")
        return [
            scrub_text(item) if type(item) is str else _redact(item, depth - 1) for item in value
        ]
    return value


def _redact_credential(value: Any) -> Any:
    """Everything under a credential key goes, except what cannot be a secret."""
    if value is None or isinstance(value, bool) or value == "":
        return value
    if isinstance(value, (dict, list)) and not value:
        return value
    return REDACTED
