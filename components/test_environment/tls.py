"""The environment's copy of the cluster's wildcard certificate, named by its ingress.

An Ingress can only name a Secret of its own namespace, so each environment gets a copy
of the cluster's wildcard TLS Secret (``platform.tls_secret``, ``<namespace>/<name>``)
in its namespace. With a TLS secret on its ingress, ingress-nginx serves the host with
that certificate and redirects http to https: the exported ``https://`` URL is true.
The copy goes with the namespace; the certificate's key stays a Pulumi secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import managed_labels

TLS_SECRET_TYPE = "kubernetes.io/tls"


@dataclass(frozen=True)
class TlsOutputs:
    """The Secret name the Mattermost ingress uses, and what the ingress waits for."""

    secret_name: pulumi.Output[str]
    resources: tuple[pulumi.Resource, ...]


def tls_secret_name(name: str) -> str:
    return f"{name}-tls"


def create_tls_secret(ctx: EnvironmentContext) -> TlsOutputs:
    """Read the cluster's wildcard Secret and declare its copy in the namespace."""
    source = k8s.core.v1.Secret.get(
        f"{ctx.name}-tls-source",
        ctx.args.platform.tls_secret,
        opts=pulumi.ResourceOptions(parent=ctx.parent),
    )
    name = tls_secret_name(ctx.name)
    copy = k8s.core.v1.Secret(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=ctx.namespace, labels=managed_labels(ctx.args.team)
        ),
        type=TLS_SECRET_TYPE,
        data=pulumi.Output.secret(source.data),
        opts=ctx.child_opts(additional_secret_outputs=["data", "stringData"]),
    )
    return TlsOutputs(
        secret_name=copy.metadata.apply(lambda meta: meta.name or name), resources=(copy,)
    )
