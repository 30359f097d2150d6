"""Host names, as the platform's hosts (Grafana, Loki, Alertmanager, Argo CD) must be."""

from __future__ import annotations

import pytest

from policies.naming import is_host_name


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("grafana.example.com", True),
        ("a-b.c.example.io", True),
        ("example", False),  # no domain
        ("Grafana.example.com", False),  # host names are lower case here
        ("-x.example.com", False),
        ("x.example.c0m", False),
        (("a" * 63 + ".") * 4 + "com", False),  # over 253 characters
        ("a" * 64 + ".example.com", False),  # a label over 63 characters
    ],
)
def test_host_names_are_dns_names_with_a_top_level_domain(value: str, host: bool) -> None:
    assert is_host_name(value) is host
