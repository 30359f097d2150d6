"""Tagged AWS resources planted in moto for the orphan finder, and the requests they
belong to: an expired, a deleted, an active and an unreadable environment, and the
platform stacks' own resources, spread over two regions.

Environment resources carry exactly the tags the component sets
(``components.test_environment.metadata.aws_tags``); platform resources the tags of the
observability component (no environment tag).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from components.test_environment.args import PlatformSettings, TestEnvironmentArgs
from components.test_environment.metadata import MANAGED_BY, aws_tags
from tests.conftest import REPO_ROOT, request_yaml

ACCOUNT = "123456789012"
HOME, OTHER = "us-east-1", "eu-west-1"
REGIONS = (HOME, OTHER)
PLATFORM = PlatformSettings(
    cluster="cloud-test",
    vpc_id="vpc-0",
    db_subnet_group="db",
    db_security_group_ids=("sg-0",),
    test_domain="test.example.com",
    ingress_class="nginx",
    shared_db_endpoint="db.example.com",
    shared_bucket="shared",
    oidc_provider_arn="arn:aws:iam::000000000000:oidc-provider/x",
    tls_secret="ingress-nginx/tls",
)
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": HOME,
}

Client = Callable[..., Any]


def env_tags(name: str, expires_at: datetime, team: str = "backend") -> list[dict[str, str]]:
    args = TestEnvironmentArgs(
        name=name,
        owner="dev@example.com",
        team=team,
        version="10.11.2",
        platform=PLATFORM,
        expires_at=expires_at,
    )
    return [{"Key": k, "Value": v} for k, v in aws_tags(name, args).items()]


def platform_tags(environment: str) -> list[dict[str, str]]:
    tags = {
        "owner": "sre@example.com",
        "team": "sre",
        "environment": environment,
        "managed-by": MANAGED_BY,
        "component": f"observability-{environment}",
    }
    return [{"Key": k, "Value": v} for k, v in tags.items()]


@dataclass(frozen=True)
class Planted:
    project: Path
    orphans: dict[str, str]  # ARN → reason
    undetermined: set[str]
    not_orphans: set[str]


def make_project(root: Path, now: datetime) -> Path:
    """A project with an active, an expired and an unreadable request (none for gone-env)."""
    requests = root / "stacks" / "environments"
    requests.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    (requests / "active-env.yaml").write_text(
        request_yaml("active-env", expires_at=_iso(now + timedelta(days=5)))
    )
    (requests / "old-env.yaml").write_text(
        request_yaml("old-env", expires_at=_iso(now - timedelta(hours=2)))
    )
    (requests / "broken-env.yaml").write_text("name: broken-env\nteam: [unclosed\n")
    return root


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bucket(client: Client, region: str, name: str, tags: list[dict[str, str]]) -> str:
    s3 = client("s3", region_name=region)
    if region == HOME:
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    return f"arn:aws:s3:::{name}"


def _database(
    client: Client, region: str, name: str, tags: list[dict[str, str]], instance_class: str
) -> str:
    rds = client("rds", region_name=region)
    created = rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass=instance_class,
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="mattermost",
        MasterUserPassword="not-a-secret-0",
        Tags=tags,
    )
    return str(created["DBInstance"]["DBInstanceArn"])


def _queue(client: Client, region: str, name: str, tags: list[dict[str, str]]) -> str:
    sqs = client("sqs", region_name=region)
    url = sqs.create_queue(QueueName=name, tags={t["Key"]: t["Value"] for t in tags})["QueueUrl"]
    return str(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )


def plant(client: Client, root: Path, now: datetime) -> Planted:
    """Plant every resource in moto (through ``client``, e.g. ``boto3.client``)."""
    project = make_project(root, now)
    expired = env_tags("old-env", now - timedelta(hours=2))
    gone = env_tags("gone-env", now + timedelta(days=1), team="integrations")
    active = env_tags("active-env", now + timedelta(days=5))
    broken = env_tags("broken-env", now + timedelta(days=1))
    # A tag value no request name can take: never turned into a path.
    hostile = env_tags("old-env", now)
    hostile = [
        {"Key": t["Key"], "Value": "../../Pulumi" if t["Key"] == "test-environment" else t["Value"]}
        for t in hostile
    ]
    orphans = {
        _bucket(client, HOME, "old-env-files", expired): "expired",
        _database(client, HOME, "mm-old-env", expired, "db.t4g.medium"): "expired",
        _bucket(client, OTHER, "gone-env-files", gone): "deleted",
        _database(client, OTHER, "mm-gone-env", gone, "db.t4g.micro"): "deleted",
        _queue(client, OTHER, "gone-env-events", gone): "deleted",
        _bucket(client, HOME, "hostile-files", hostile): "deleted",
    }
    not_orphans = {
        _bucket(client, HOME, "active-env-files", active),
        _database(client, OTHER, "mm-active-env", active, "db.t4g.small"),
        _bucket(client, HOME, "cloud-dev-prometheus-metrics", platform_tags("dev")),
        _database(client, OTHER, "grafana-staging", platform_tags("staging"), "db.t4g.small"),
    }
    # Tagged for an environment but not by us: the tagging API is asked for ours only.
    foreign = [t for t in gone if t["Key"] != "managed-by"] + [
        {"Key": "managed-by", "Value": "someone-else"}
    ]
    _bucket(client, HOME, "someone-elses-files", foreign)
    undetermined = {_bucket(client, HOME, "broken-env-files", broken)}
    return Planted(project, orphans, undetermined, not_orphans)
