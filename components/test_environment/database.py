"""The environment's database: its own RDS instance, a logical database on the shared
cluster, or nothing (the operator runs one in the namespace).

Wherever the password appears (RDS input, role input, connection string) it is a
Pulumi secret, so it is encrypted in state and redacted in previews.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_postgresql as postgresql
import pulumi_random as random

from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import (
    managed_labels,
    postgres_identifier,
    rds_identifier,
)

POSTGRES_PORT = 5432
# A current major version; RDS picks the newest minor and auto-upgrades minors.
POSTGRES_ENGINE_VERSION = "17"
RDS_USERNAME = "mmadmin"
RDS_DATABASE = "mattermost"
RDS_STORAGE_GIB = 20
# The Mattermost operator reads the connection string from this key of the Secret.
CONNECTION_STRING_KEY = "DB_CONNECTION_STRING"
# Unreserved in URLs and accepted by RDS (which forbids '/', '@', '"' and ' ').
URL_SAFE_SPECIALS = "-_"
PASSWORD_LENGTH = 32


@dataclass(frozen=True)
class DatabaseOutputs:
    """What the Mattermost resource and the component's outputs need from the database."""

    secret_name: pulumi.Output[str] | None
    endpoint: pulumi.Output[str] | None
    resources: tuple[pulumi.Resource, ...]


def connection_string(
    user: pulumi.Input[str],
    password: pulumi.Input[str],
    host: pulumi.Input[str],
    port: pulumi.Input[int],
    database: pulumi.Input[str],
) -> pulumi.Output[str]:
    """``postgres://user:pass@host:port/db?sslmode=require`` as a secret output."""
    url = pulumi.Output.all(user, password, host, port, database).apply(
        lambda parts: (
            f"postgres://{quote(str(parts[0]), safe='')}:{quote(str(parts[1]), safe='')}"
            f"@{parts[2]}:{parts[3]}/{parts[4]}?sslmode=require&connect_timeout=10"
        )
    )
    return pulumi.Output.secret(url)


def create_database(ctx: EnvironmentContext) -> DatabaseOutputs:
    """Declare the database ``ctx.args.database`` asks for."""
    if ctx.args.database == "aws-rds-postgres":
        return _rds_instance(ctx)
    if ctx.args.database == "aws-multitenant-rds-postgres":
        return _shared_cluster_database(ctx)
    return DatabaseOutputs(secret_name=None, endpoint=None, resources=())


def _password(ctx: EnvironmentContext) -> random.RandomPassword:
    return random.RandomPassword(
        f"{ctx.name}-db-password",
        length=PASSWORD_LENGTH,
        special=True,
        override_special=URL_SAFE_SPECIALS,
        min_lower=2,
        min_upper=2,
        min_numeric=2,
        opts=ctx.child_opts(),
    )


def _secret_result(password: random.RandomPassword) -> pulumi.Output[str]:
    """The generated password, explicitly secret (not every engine honours the schema's)."""
    result: pulumi.Output[str] = pulumi.Output.secret(password.result)
    return result


def _rds_instance(ctx: EnvironmentContext) -> DatabaseOutputs:
    """A small private, encrypted Postgres instance that is cheap to throw away."""
    password = _password(ctx)
    platform = ctx.args.platform
    instance = aws.rds.Instance(
        f"{ctx.name}-db",
        identifier=rds_identifier(ctx.name),
        engine="postgres",
        engine_version=POSTGRES_ENGINE_VERSION,
        # No paid RDS Extended Support if the major version reaches end of life.
        engine_lifecycle_support="open-source-rds-extended-support-disabled",
        instance_class=ctx.args.db_instance_class,
        allocated_storage=RDS_STORAGE_GIB,
        storage_type="gp3",
        storage_encrypted=True,
        publicly_accessible=False,
        multi_az=False,
        db_subnet_group_name=platform.db_subnet_group,
        vpc_security_group_ids=list(platform.db_security_group_ids),
        db_name=RDS_DATABASE,
        username=RDS_USERNAME,
        password=_secret_result(password),
        # A test environment's data is disposable: no final snapshot, one day of backups.
        skip_final_snapshot=True,
        deletion_protection=False,
        backup_retention_period=1,
        delete_automated_backups=True,
        auto_minor_version_upgrade=True,
        apply_immediately=True,
        copy_tags_to_snapshot=True,
        tags=dict(ctx.tags),
        # The identifier is fixed, so a replacement must delete the old instance first.
        opts=ctx.child_opts(additional_secret_outputs=["password"], delete_before_replace=True),
    )
    secret = _connection_secret(
        ctx,
        connection_string(
            RDS_USERNAME,
            _secret_result(password),
            instance.address,
            instance.port,
            RDS_DATABASE,
        ),
    )
    return DatabaseOutputs(
        secret_name=secret.metadata.apply(lambda meta: meta.name or f"{ctx.name}-db"),
        endpoint=pulumi.Output.secret(instance.endpoint),
        resources=(password, instance, secret),
    )


def _shared_cluster_database(ctx: EnvironmentContext) -> DatabaseOutputs:
    """A login role and a database it owns on the shared cluster.

    The postgresql provider (connected to the shared cluster as a provisioning role)
    comes from the stack through ``opts.providers``.
    """
    password = _password(ctx)
    identifier = postgres_identifier(ctx.name)
    role = postgresql.Role(
        f"{ctx.name}-db-role",
        name=identifier,
        login=True,
        password=_secret_result(password),
        opts=ctx.child_opts(additional_secret_outputs=["password"]),
    )
    database = postgresql.Database(
        f"{ctx.name}-db",
        name=identifier,
        owner=role.name,
        opts=ctx.child_opts(),
    )
    endpoint = ctx.args.platform.shared_db_endpoint
    secret = _connection_secret(
        ctx,
        connection_string(
            role.name,
            _secret_result(password),
            endpoint,
            POSTGRES_PORT,
            database.name,
        ),
    )
    return DatabaseOutputs(
        secret_name=secret.metadata.apply(lambda meta: meta.name or f"{ctx.name}-db"),
        endpoint=pulumi.Output.secret(f"{endpoint}:{POSTGRES_PORT}"),
        resources=(password, role, database, secret),
    )


def _connection_secret(
    ctx: EnvironmentContext, connection: pulumi.Output[str]
) -> k8s.core.v1.Secret:
    """The Secret the Mattermost operator reads the connection string from."""
    return k8s.core.v1.Secret(
        f"{ctx.name}-db",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"{ctx.name}-db", namespace=ctx.namespace, labels=managed_labels(ctx.args.team)
        ),
        type="Opaque",
        string_data={CONNECTION_STRING_KEY: connection},
        opts=ctx.child_opts(additional_secret_outputs=["data", "stringData"]),
    )
