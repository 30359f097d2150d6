"""Network: nothing but a load balancer's web ports is open to the whole internet.

Ingress comes in three shapes: the ``ingress`` list of ``aws:ec2/securityGroup:SecurityGroup``
(``cidrBlocks``/``ipv6CidrBlocks``, ``fromPort``/``toPort``, ``protocol``), a standalone
``aws:ec2/securityGroupRule:SecurityGroupRule`` with ``type: ingress`` (same fields), and
``aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule`` (``cidrIpv4``/``cidrIpv6``,
``fromPort``/``toPort``, ``ipProtocol``). Protocol ``-1`` (``all``) means every port.

Why a stack rule: whether a public rule is allowed depends on the *group* it opens (a
load balancer's group may open ``network.public_ports``), and a standalone rule names its
group only by ``securityGroupId``, an output that is unknown at preview. The engine does
record where that input came from (``property_dependencies["securityGroupId"]``), so a
stack rule can resolve the group and judge it by its own ``name`` input, logical name and
``tags``. Judging a standalone rule by its own name would let anyone call a rule
``…-lb-…`` to open a database group. Only when the group is not in the stack (its id is a
literal or comes from elsewhere) is the rule judged by its own logical name and ``tags``.

A rule whose source is unknown is not judged. One whose ports are unknown is reported
unless its group could be a load balancer's, since any port open to the internet on
another group breaks the rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    Violation,
    is_unknown,
    stack_rule,
)
from policies.rules.aws_tagging import tag_map

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ALL_PROTOCOLS = frozenset({"-1", "all"})
ALL_PORTS = (0, 65535)
ICMP_PROTOCOLS = frozenset({"icmp", "icmpv6", "1", "58"})


@dataclass(frozen=True)
class Opening:
    """One public ingress permission: where it is declared and what it opens."""

    where: str  # "ingress[0]" or "" for a standalone rule
    cidr: str
    protocol: Any
    ports: tuple[int, int] | None  # None when unknown


def is_internet(cidr: Any) -> bool:
    """Whether ``cidr`` is the whole IPv4 or IPv6 internet (``0.0.0.0/0``, ``::/0``)."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _port(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def port_range(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """The ports a permission opens; every port for protocol -1; None when unknown."""
    if isinstance(protocol, str) and protocol.strip().lower() in ALL_PROTOCOLS:
        return ALL_PORTS
    low, high = _port(from_port), _port(to_port)
    if low is None and high is None:
        return None
    low = low if low is not None else high
    high = high if high is not None else low
    assert low is not None
    assert high is not None
    return (min(low, high), max(low, high))


def _strings(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [value] if value is not None else []


def openings(resource: Resource) -> list[Opening]:
    """Every permission of ``resource`` open to the whole internet."""
    found: list[Opening] = []
    if resource.type == SECURITY_GROUP:
        for index, entry in enumerate(_strings(resource.get("ingress"))):
            if not isinstance(entry, Mapping):
                continue
            cidrs = _strings(entry.get("cidrBlocks")) + _strings(entry.get("ipv6CidrBlocks"))
            protocol = entry.get("protocol")
            ports = port_range(protocol, entry.get("fromPort"), entry.get("toPort"))
            found += [
                Opening(f"ingress[{index}]", c, protocol, ports) for c in cidrs if is_internet(c)
            ]
    elif resource.type == SECURITY_GROUP_RULE:
        if resource.get("type") != "ingress":
            return []
        cidrs = _strings(resource.get("cidrBlocks")) + _strings(resource.get("ipv6CidrBlocks"))
        protocol = resource.get("protocol")
        ports = port_range(protocol, resource.get("fromPort"), resource.get("toPort"))
        found += [Opening("", c, protocol, ports) for c in cidrs if is_internet(c)]
    elif resource.type == INGRESS_RULE:
        cidrs = [resource.get("cidrIpv4"), resource.get("cidrIpv6")]
        protocol = resource.get("ipProtocol")
        ports = port_range(protocol, resource.get("fromPort"), resource.get("toPort"))
        found += [Opening("", c, protocol, ports) for c in cidrs if is_internet(c)]
    return found


def load_balancer_verdict(resource: Resource, ctx: RuleContext) -> bool | None:
    """Whether ``resource`` (a group, or a rule standing in for an unknown group) is a load
    balancer's: by its ``name`` input or logical name matching ``load_balancer_names``, or
    by the ``load_balancer_tag``. None when that cannot be known (unknown name or tags)."""
    settings = ctx.config.network
    names = [resource.name, resource.get("name")]
    if any(
        isinstance(n, str) and any(fnmatchcase(n, p) for p in settings.load_balancer_names)
        for n in names
    ):
        return True
    tags = tag_map(resource.get("tags"))
    key, value = settings.load_balancer_tag
    if tags is not None and tags.get(key) == value:
        return True
    if tags is None or is_unknown(tags.get(key)) or any(is_unknown(n) for n in names):
        return None
    return False


def _group_of(rule: Resource, groups: Sequence[Resource]) -> Resource | None:
    for group in groups:
        if rule.depends_on(group.urn, "securityGroupId"):
            return group
    return None


def _shown_ports(opening: Opening) -> str:
    protocol = opening.protocol
    if isinstance(protocol, str) and protocol.strip().lower() in ALL_PROTOCOLS:
        return f"all ports (protocol {protocol})"
    if opening.ports is None:
        return f"unknown ports ({protocol})"
    low, high = opening.ports
    return f"port {low}/{protocol}" if low == high else f"ports {low}-{high}/{protocol}"


def _in_public_ports(opening: Opening, ctx: RuleContext) -> bool | None:
    """Whether every port opened lies in ``network.public_ports`` (None: unknown)."""
    protocol = opening.protocol
    if isinstance(protocol, str) and protocol.strip().lower() in ICMP_PROTOCOLS:
        return False  # ICMP "ports" are message types, never a web port
    if opening.ports is None or is_unknown(protocol):
        return None
    low, high = opening.ports
    allowed = set(ctx.config.network.public_ports)
    return all(port in allowed for port in range(low, high + 1))


@stack_rule(
    "sg-no-public-ingress",
    "No security group admits traffic from the whole internet (0.0.0.0/0, ::/0) except a "
    "load balancer's group on the public web ports.",
    "high",
    "Narrow `cidrBlocks`/`ipv6CidrBlocks` (`cidrIpv4`/`cidrIpv6` on a "
    "SecurityGroupIngressRule) to known networks or reference a security group instead; "
    "only a load balancer's group (named like `network.load_balancer_names` or tagged with "
    "`network.load_balancer_tag`) may open `network.public_ports` to the internet.",
)
def no_public_ingress(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    relevant = [
        r for r in resources if r.type in {SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE}
    ]
    if not relevant:
        return NOT_APPLICABLE
    groups = [r for r in relevant if r.type == SECURITY_GROUP]
    found: list[Violation] = []
    for resource in relevant:
        for opening in openings(resource):
            group = resource if resource.type == SECURITY_GROUP else _group_of(resource, groups)
            judged_by = group if group is not None else resource
            on_public_ports = _in_public_ports(opening, ctx)
            if on_public_ports is not False and load_balancer_verdict(judged_by, ctx) is not False:
                # A load balancer's group on web ports, or it cannot be told which.
                continue
            place = f"`{opening.where}` " if opening.where else ""
            whose = "" if judged_by is resource else f" (of security group {judged_by.name!r})"
            if on_public_ports is False:
                reason = (
                    f"only ports {', '.join(map(str, ctx.config.network.public_ports))} may "
                    "be public, and only on a load balancer's group"
                )
            else:
                reason = "not a load balancer's group"
            found.append(
                Violation(
                    f"{resource.label}{whose}: {place}opens "
                    f"{_shown_ports(opening)} to {opening.cidr} ({reason})",
                    resource.urn,
                )
            )
    return found


RULES: tuple[Rule, ...] = (no_public_ingress,)
