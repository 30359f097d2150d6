"""Grafana's database: an Aurora PostgreSQL Serverless v2 cluster with one writer.

Serverless v2 scales between ``db_min_acu`` and ``db_max_acu`` capacity units, so the
database of a dashboard service that is idle at night costs little. The master password
is generated, secret wherever it appears, and reaches Grafana only through a Kubernetes
Secret (``GF_DATABASE_PASSWORD``), never through Helm values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.observability.central_args import CentralObservabilityArgs

ENGINE = "aurora-postgresql"
# A current Aurora PostgreSQL release that supports Serverless v2; minors auto-upgrade.
ENGINE_VERSION = "16.6"
INSTANCE_CLASS = "db.serverless"
DATABASE_NAME = "grafana"
MASTER_USERNAME = "grafana"
PORT = 5432
PASSWORD_LENGTH = 32
# Characters RDS accepts in a master password (it refuses '/', '@', '"' and ' ').
PASSWORD_SPECIALS = "-_"
PASSWORD_KEY = "password"


@dataclass(frozen=True)
class GrafanaDatabase:
    """Where Grafana connects, and the Secret holding its password."""

    endpoint: pulumi.Output[str]
    secret_name: str
    resources: tuple[pulumi.Resource, ...]


def cluster_identifier(name: str) -> str:
    """The cluster's RDS identifier: the component's name plus ``-grafana``."""
    return f"{name}-grafana"


def create_grafana_database(
    name: str,
    args: CentralObservabilityArgs,
    namespace: pulumi.Output[str],
    tags: Mapping[str, str],
    labels: Mapping[str, str],
    parent: pulumi.Resource,
) -> GrafanaDatabase:
    child = pulumi.ResourceOptions(parent=parent)
    password = random.RandomPassword(
        f"{name}-grafana-db-password",
        length=PASSWORD_LENGTH,
        special=True,
        override_special=PASSWORD_SPECIALS,
        min_lower=2,
        min_upper=2,
        min_numeric=2,
        opts=child,
    )
    secret_password: pulumi.Output[str] = pulumi.Output.secret(password.result)
    identifier = cluster_identifier(name)
    cluster = aws.rds.Cluster(
        f"{name}-grafana-db",
        cluster_identifier=identifier,
        engine=ENGINE,
        engine_mode="provisioned",
        engine_version=ENGINE_VERSION,
        serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
            min_capacity=args.db_min_acu, max_capacity=args.db_max_acu
        ),
        database_name=DATABASE_NAME,
        master_username=MASTER_USERNAME,
        master_password=secret_password,
        port=PORT,
        storage_encrypted=True,
        deletion_protection=args.db_deletion_protection,
        backup_retention_period=args.backup_retention_days,
        copy_tags_to_snapshot=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{identifier}-final",
        db_subnet_group_name=args.db_subnet_group,
        vpc_security_group_ids=list(args.db_security_group_ids),
        tags=dict(tags),
        opts=pulumi.ResourceOptions(
            parent=parent, protect=args.protect, additional_secret_outputs=["masterPassword"]
        ),
    )
    writer = aws.rds.ClusterInstance(
        f"{name}-grafana-db-writer",
        identifier=f"{identifier}-1",
        cluster_identifier=cluster.id,
        engine=ENGINE,
        engine_version=cluster.engine_version,
        instance_class=INSTANCE_CLASS,
        db_subnet_group_name=args.db_subnet_group,
        publicly_accessible=False,
        auto_minor_version_upgrade=True,
        copy_tags_to_snapshot=True,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect),
    )
    secret_name = f"{name}-grafana-db"
    secret = k8s.core.v1.Secret(
        secret_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=secret_name, namespace=namespace, labels=dict(labels)
        ),
        type="Opaque",
        string_data={PASSWORD_KEY: secret_password},
        opts=pulumi.ResourceOptions(
            parent=parent, additional_secret_outputs=["data", "stringData"]
        ),
    )
    return GrafanaDatabase(
        endpoint=cluster.endpoint,
        secret_name=secret_name,
        resources=(password, cluster, writer, secret),
    )
