"""sg-no-public-ingress over security groups, SecurityGroupRules and ingress rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policies.config import DEFAULT_CONFIG, NetworkSettings, PolicyConfig
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Violation
from policies.rules.network import RULES, is_internet, no_public_ingress, port_range

NOW = datetime(2026, 11, 27, tzinfo=UTC)
CTX = RuleContext(stack="prod-us-east-1", tier="production", config=DEFAULT_CONFIG, now=NOW)
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def res(
    type_: str, name: str, inputs: dict[str, Any], deps: dict[str, tuple[str, ...]] | None = None
) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:prod-us-east-1::sre-platform::{type_}::{name}",
        inputs=inputs,
        property_dependencies=deps or {},
    )


def group(logical: str, *ingress: dict[str, Any], **inputs: Any) -> Resource:
    return res(SG, logical, {"vpcId": UNKNOWN, "ingress": list(ingress), **inputs})


def tcp(port: int, to: int | None = None, *, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    return {"protocol": "tcp", "fromPort": port, "toPort": to or port, "cidrBlocks": [cidr]}


def ingress_rule(name: str, of: Resource | None, **inputs: Any) -> Resource:
    deps = {"securityGroupId": (of.urn,)} if of is not None else {}
    sg_id = UNKNOWN if of is not None else "sg-0123456789abcdef0"
    return res(INGRESS_RULE, name, {"securityGroupId": sg_id, **inputs}, deps)


def check(*resources: Resource) -> list[Violation]:
    outcome = no_public_ingress.check(list(resources), CTX)
    assert outcome is not NOT_APPLICABLE
    return list(outcome)


def test_module_rules() -> None:
    [rule] = RULES
    assert (rule.id, rule.severity, rule.scope) == ("sg-no-public-ingress", "high", "stack")
    assert "cidrBlocks" in rule.remediation


def test_not_applicable_without_security_groups() -> None:
    bucket = res("aws:s3/bucket:Bucket", "b", {})
    assert no_public_ingress.check([bucket], CTX) is NOT_APPLICABLE
    assert no_public_ingress.check([], CTX) is NOT_APPLICABLE


def test_private_and_referenced_ingress_pass() -> None:
    db = group(
        "chat-db-sg",
        tcp(5432, cidr="10.0.0.0/16"),
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": [UNKNOWN]},
    )
    assert check(db) == []


def test_load_balancer_by_name_may_open_web_ports() -> None:
    by_logical_name = group("web-alb", tcp(443), tcp(80))
    by_name_input = group("public-ingress", tcp(443), name="chat-prod-alb")
    ipv6 = group("edge-lb-public", {**tcp(80), "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]})
    assert check(by_logical_name, by_name_input, ipv6) == []
    [violation] = check(group("public-ingress", tcp(443), name="chat-prod-app"))
    assert "'public-ingress'" in violation.message


def test_load_balancer_by_tag() -> None:
    lb = group("ingress", tcp(443), tags={"sre:role": "load-balancer", "team": "sre"})
    assert check(lb) == []


def test_database_group_open_to_the_internet() -> None:
    db = group("chat-db-sg", tcp(5432))
    [violation] = check(db)
    assert violation.urn == db.urn
    assert "`ingress[0]` opens port 5432/tcp to 0.0.0.0/0" in violation.message
    assert "only ports 80, 443 may be public" in violation.message


def test_web_port_on_a_non_load_balancer_group() -> None:
    [violation] = check(group("app-sg", tcp(443)))
    assert "port 443/tcp to 0.0.0.0/0 (not a load balancer's group)" in violation.message


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        (tcp(22), "port 22/tcp"),
        (tcp(80, 443), "ports 80-443/tcp"),  # 81-442 are not public ports
        ({"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}, "all ports"),
        ({"protocol": "icmp", "fromPort": 8, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}, "icmp"),
    ],
)
def test_load_balancer_may_not_open_other_ports(entry: dict[str, Any], shown: str) -> None:
    [violation] = check(group("web-alb", entry))
    assert shown in violation.message


def test_public_ports_come_from_config() -> None:
    config = PolicyConfig(network=NetworkSettings(public_ports=(443, 8443)))
    ctx = RuleContext(stack="prod", tier="production", config=config, now=NOW)
    outcome = no_public_ingress.check([group("web-alb", tcp(80), tcp(8443))], ctx)
    assert outcome is not NOT_APPLICABLE
    [violation] = outcome
    assert "port 80/tcp" in violation.message


def test_security_group_rule_resolves_its_group() -> None:
    alb = group("web-alb")
    db = group("chat-db-sg")
    https = res(
        SG_RULE,
        "web-https",
        {"type": "ingress", "securityGroupId": UNKNOWN, **tcp(443)},
        {"securityGroupId": (alb.urn,)},
    )
    # Named like a load balancer's rule, but it opens the database's group.
    sneaky = res(
        SG_RULE,
        "db-lb-https",
        {"type": "ingress", "securityGroupId": UNKNOWN, **tcp(443)},
        {"securityGroupId": (db.urn,)},
    )
    egress = res(
        SG_RULE,
        "db-egress",
        {"type": "egress", "securityGroupId": UNKNOWN, **tcp(443)},
        {"securityGroupId": (db.urn,)},
    )
    [violation] = check(alb, db, https, sneaky, egress)
    assert violation.urn == sneaky.urn
    assert "(of security group 'chat-db-sg')" in violation.message


def test_ingress_rule_resource() -> None:
    alb, app = group("web-alb"), group("app-sg")
    ok = ingress_rule(
        "web-https", alb, ipProtocol="tcp", fromPort=443, toPort=443, cidrIpv4="0.0.0.0/0"
    )
    bad = ingress_rule("app-ssh", app, ipProtocol="tcp", fromPort=22, toPort=22, cidrIpv6="::/0")
    everything = ingress_rule("app-all", app, ipProtocol="-1", cidrIpv4="0.0.0.0/0")
    found = check(alb, app, ok, bad, everything)
    assert [v.urn for v in found] == [bad.urn, everything.urn]
    assert "opens port 22/tcp to ::/0" in found[0].message
    assert "all ports (protocol -1) to 0.0.0.0/0" in found[1].message


def test_rule_of_a_group_outside_the_stack_is_judged_by_itself() -> None:
    tagged = ingress_rule(
        "edge-https",
        None,
        ipProtocol="tcp",
        fromPort=443,
        toPort=443,
        cidrIpv4="0.0.0.0/0",
        tags={"sre:role": "load-balancer"},
    )
    untagged = ingress_rule(
        "edge-https-2", None, ipProtocol="tcp", fromPort=443, toPort=443, cidrIpv4="0.0.0.0/0"
    )
    [violation] = check(tagged, untagged)
    assert violation.urn == untagged.urn


def test_unknown_values() -> None:
    unknown_cidr = group("app-sg", {**tcp(22), "cidrBlocks": [UNKNOWN]})
    unknown_ports = group("web-alb", {**tcp(22), "fromPort": UNKNOWN, "toPort": UNKNOWN})
    unknown_tags = group("edge", tcp(443), tags=UNKNOWN)
    assert check(unknown_cidr, unknown_ports, unknown_tags) == []
    # Unknown ports on a group that is certainly not a load balancer's still break the rule.
    [violation] = check(group("app-sg", {**tcp(22), "fromPort": UNKNOWN, "toPort": UNKNOWN}))
    assert "unknown ports" in violation.message
    # An unknown tag map cannot hide a database port.
    [violation] = check(group("edge", tcp(5432), tags=UNKNOWN))
    assert "5432" in violation.message


def test_helpers() -> None:
    assert is_internet("0.0.0.0/0")
    assert is_internet("::/0")
    assert not is_internet("10.0.0.0/8")
    assert not is_internet("not-a-cidr")
    assert port_range("-1", 0, 0) == (0, 65535)
    assert port_range("tcp", 443, 80) == (80, 443)
    assert port_range("tcp", UNKNOWN, None) is None
