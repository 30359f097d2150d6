"""Naming rules shared by request validation and components."""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def dns_label_problem(value: str, *, max_length: int = 63) -> str | None:
    """Why ``value`` is not an RFC 1123 DNS label of at most ``max_length`` characters."""
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters (got {len(value)})"
    if not DNS_LABEL.match(value):
        return (
            "must be a DNS label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None
