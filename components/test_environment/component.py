"""``TestEnvironment``: one self-serve Mattermost test installation on the shared cluster."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.test_environment.args import TestEnvironmentArgs
from components.test_environment.context import EnvironmentContext
from components.test_environment.database import create_database
from components.test_environment.filestore import create_filestore
from components.test_environment.mattermost import create_mattermost
from components.test_environment.metadata import (
    aws_tags,
    namespace_annotations,
    namespace_labels,
)
from components.test_environment.network_policies import create_network_policies
from components.test_environment.quotas import create_quota_and_limits
from components.test_environment.tls import create_tls_secret
from components.test_environment.validation import validate

TYPE_TOKEN = "sre:environments:TestEnvironment"


class TestEnvironment(pulumi.ComponentResource):
    """A namespace with quota and network isolation, its database and file store, and the
    Mattermost resource that ties them together.

    Inputs are validated before anything is declared (``TestEnvironmentError``).
    Providers (kubernetes, aws, postgresql for shared-cluster databases) come from
    ``opts.providers`` and reach every child through ``parent=self``.

    Outputs: ``url`` (``https://``: the ingress serves the cluster's wildcard certificate,
    see ``tls.py``); ``namespace``; ``database_endpoint`` (secret, ``None`` when the
    operator runs the database); ``bucket`` (the bucket holding the environment's files,
    the shared one for ``aws-multitenant-s3`` where files live under ``<name>/``;
    ``None`` when the operator runs MinIO).
    """

    __test__ = False  # not a pytest test class, despite the name

    url: pulumi.Output[str]
    namespace: pulumi.Output[str]
    database_endpoint: pulumi.Output[str] | None
    bucket: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        args: TestEnvironmentArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate(name, args)
        super().__init__(TYPE_TOKEN, name, None, opts)

        namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                labels=namespace_labels(args),
                annotations=namespace_annotations(args),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ctx = EnvironmentContext(
            name=name,
            args=args,
            parent=self,
            # Read from the namespace's output, so namespaced children depend on it.
            namespace=namespace.metadata.apply(lambda meta: meta.name or name),
            tags=aws_tags(name, args),
        )
        quota, limit_range = create_quota_and_limits(ctx)
        policies = create_network_policies(ctx)
        database = create_database(ctx)
        filestore = create_filestore(ctx)
        tls = create_tls_secret(ctx)
        create_mattermost(ctx, database, filestore, tls, depends_on=[quota, limit_range, *policies])

        self.url = pulumi.Output.from_input(f"https://{name}.{args.platform.test_domain}")
        self.namespace = ctx.namespace
        self.database_endpoint = database.endpoint
        self.bucket = filestore.bucket
        self.register_outputs(
            {
                "url": self.url,
                "namespace": self.namespace,
                "database_endpoint": self.database_endpoint,
                "bucket": self.bucket,
            }
        )
