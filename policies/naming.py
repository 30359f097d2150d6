"""Naming rules shared by request validation and components."""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# A fully qualified host name: dot-separated DNS labels and an alphabetic top-level
# domain. A pattern string (no look-arounds) so pydantic fields can use it as it is.
HOST_NAME_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_HOST_NAME = re.compile(HOST_NAME_PATTERN)


def is_host_name(value: str) -> bool:
    """Whether ``value`` is a host name such as grafana.example.com (at most 253 chars)."""
    return len(value) <= 253 and bool(_HOST_NAME.match(value))


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


# Key prefixes Kubernetes reserves for its own components, with every subdomain
# (pod-security.kubernetes.io, node.k8s.io, ...): a request setting them could change
# how the cluster treats the namespace (e.g. pod-security.kubernetes.io/enforce).
KUBERNETES_RESERVED_DOMAINS: tuple[str, ...] = ("kubernetes.io", "k8s.io")
# Except the prefix of Kubernetes' recommended labels, which exists for users to set
# (app.kubernetes.io/name, /part-of, ...); it drives no cluster behaviour.
USER_KUBERNETES_PREFIXES: tuple[str, ...] = ("app.kubernetes.io",)
_KEY_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def reserved_prefix(prefix: str) -> str | None:
    """The Kubernetes domain that reserves the key prefix ``prefix``, if one does."""
    if prefix in USER_KUBERNETES_PREFIXES:
        return None
    for domain in KUBERNETES_RESERVED_DOMAINS:
        if prefix == domain or prefix.endswith(f".{domain}"):
            return domain
    return None


def label_key_problem(key: str, *, owned_prefixes: tuple[str, ...] = ()) -> str | None:
    """Why ``key`` is not a label (or annotation) key a user may set, else ``None``.

    ``owned_prefixes`` are key beginnings the platform sets itself (``sre-platform/``).
    """
    prefix, slash, name = key.rpartition("/")
    if not _KEY_NAME.match(name):
        return (
            "not a Kubernetes label key: [prefix/]name, the name at most 63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit"
        )
    if slash and not _SUBDOMAIN.match(prefix):
        return (
            f"prefix {prefix[:80]!r} is not a DNS subdomain (lower-case letters, digits, "
            "'-' and '.', at most 253 characters)"
        )
    domain = reserved_prefix(prefix) if slash else None
    if domain:
        return (
            f"the prefix {prefix}/ is reserved for Kubernetes ({domain} and its subdomains); "
            f"use a prefix of your own or none, e.g. {name}"
        )
    for owned in owned_prefixes:
        if key.startswith(owned):
            return f"keys starting with {owned} are reserved for the platform; choose another key"
    return None
