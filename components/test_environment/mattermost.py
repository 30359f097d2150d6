"""The Mattermost custom resource that the operator turns into the running app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.test_environment.args import SIZES, EnvVar, SizeSpec
from components.test_environment.context import EnvironmentContext
from components.test_environment.database import DatabaseOutputs
from components.test_environment.filestore import S3_ENDPOINT, FilestoreOutputs
from components.test_environment.metadata import LABEL_SIZE, managed_labels
from components.test_environment.quotas import container_limits, container_requests
from components.test_environment.tls import TlsOutputs

API_VERSION = "installation.mattermost.com/v1beta1"
KIND = "Mattermost"
# Storage of operator-run database and MinIO: small, as befits a test environment.
BACKING_STORAGE = "10Gi"
# The only database the operator can run itself (its ``postgres`` type is not
# implemented); said explicitly rather than left to the operator's default.
OPERATOR_DATABASE_TYPE = "mysql"


def env_entries(env: Sequence[EnvVar], path_prefix: str | None) -> list[dict[str, Any]]:
    """``spec.mattermostEnv``: Kubernetes EnvVars, literal or from a Secret key."""
    entries: list[dict[str, Any]] = []
    for var in env:
        if var.secret_ref is not None:
            entries.append(
                {
                    "name": var.name,
                    "valueFrom": {
                        "secretKeyRef": {"name": var.secret_ref.secret, "key": var.secret_ref.key}
                    },
                }
            )
        else:
            entries.append({"name": var.name, "value": var.value or ""})
    if path_prefix:
        entries.append({"name": "MM_FILESETTINGS_AMAZONS3PATHPREFIX", "value": path_prefix})
    return entries


def _resources(size: SizeSpec) -> dict[str, dict[str, str]]:
    return {"requests": container_requests(size), "limits": container_limits(size)}


def _operator_managed(size: SizeSpec) -> dict[str, Any]:
    """One replica sized like an app replica, on a small volume."""
    return {"replicas": 1, "resources": _resources(size), "storageSize": BACKING_STORAGE}


def mattermost_spec(
    ctx: EnvironmentContext,
    database: DatabaseOutputs,
    filestore: FilestoreOutputs,
    tls: TlsOutputs,
) -> dict[str, Any]:
    """The CR's ``spec``.

    Replicas and resources are explicit and ``spec.size`` is deliberately absent: when
    ``size`` is set the operator overwrites replicas and resources from its own table
    (limits of 2-4 CPUs and 4-16Gi per pod), which the namespace quota, derived from
    ``SIZES``, would then reject.
    """
    args = ctx.args
    size = SIZES[args.size]
    spec: dict[str, Any] = {
        "image": args.image,
        "version": args.version,
        "replicas": size.replicas,
        "ingress": {
            "enabled": True,
            "host": f"{ctx.name}.{args.platform.test_domain}",
            "ingressClass": args.platform.ingress_class,
            "tlsSecret": tls.secret_name,
        },
        "scheduling": {"resources": _resources(size)},
        "mattermostEnv": env_entries(args.env, filestore.path_prefix),
    }
    if database.secret_name is not None:
        spec["database"] = {"external": {"secret": database.secret_name}}
    else:
        spec["database"] = {
            "operatorManaged": {"type": OPERATOR_DATABASE_TYPE, **_operator_managed(size)}
        }
    if filestore.bucket is not None:
        spec["fileStore"] = {
            "external": {"url": S3_ENDPOINT, "bucket": filestore.bucket, "useServiceAccount": True}
        }
    else:
        spec["fileStore"] = {"operatorManaged": _operator_managed(size)}
    return spec


def create_mattermost(
    ctx: EnvironmentContext,
    database: DatabaseOutputs,
    filestore: FilestoreOutputs,
    tls: TlsOutputs,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """The installation, created only after everything it relies on by name exists."""
    return k8s.apiextensions.CustomResource(
        f"{ctx.name}-mattermost",
        api_version=API_VERSION,
        kind=KIND,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=ctx.name,
            namespace=ctx.namespace,
            labels={**managed_labels(ctx.args.team), LABEL_SIZE: ctx.args.size},
        ),
        spec=mattermost_spec(ctx, database, filestore, tls),
        opts=ctx.child_opts(
            depends_on=[*depends_on, *database.resources, *filestore.resources, *tls.resources]
        ),
    )
