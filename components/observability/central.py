"""``CentralObservability``: long-term metrics, logs, dashboards and alert routing of the
cnc cluster, for every cluster of one environment."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.observability.alertmanager_config import render_alertmanager_config
from components.observability.central_args import (
    CentralObservabilityArgs,
    CentralObservabilityError,
    Toleration,
    validate,
)
from components.observability.central_buckets import create_private_bucket
from components.observability.central_dashboards import (
    SIDECAR_LABEL,
    SIDECAR_LABEL_VALUE,
    load_dashboards,
)
from components.observability.central_database import (
    DATABASE_NAME,
    MASTER_USERNAME,
    PASSWORD_KEY,
    PORT,
    create_grafana_database,
)
from components.observability.central_irsa import create_irsa_role
from components.observability.central_network import create_network_policies
from components.observability.central_values import (
    GRAFANA,
    GRAFANA_ADMIN_SECRET_KEYS,
    GRAFANA_PORT,
    LOKI,
    LOKI_GATEWAY_PORT,
    LOKI_SA,
    THANOS,
    THANOS_COMPACTOR_SA,
    THANOS_QUERY_PORT,
    THANOS_STOREGATEWAY_SA,
    grafana_values,
    helm_release_kwargs,
    loki_values,
    service_url,
    thanos_values,
)
from components.tags import platform_tags
from components.test_environment.metadata import LABEL_MANAGED_BY, MANAGED_BY

TYPE_TOKEN = "sre:observability:CentralObservability"
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"
LABEL_COMPONENT = "sre-platform/component"

__all__ = [
    "TYPE_TOKEN",
    "CentralObservability",
    "CentralObservabilityArgs",
    "CentralObservabilityError",
    "Toleration",
    "alertmanager_config_secret_name",
    "grafana_url",
    "loki_push_url",
    "metrics_bucket_arn",
    "metrics_bucket_name",
]


def metrics_bucket_name(environment: str) -> str:
    return f"cloud-{environment}-prometheus-metrics"


def metrics_bucket_arn(environment: str) -> str:
    return f"arn:aws:s3:::{metrics_bucket_name(environment)}"


def logs_bucket_name(environment: str) -> str:
    return f"cloud-{environment}-loki-logs"


def alertmanager_config_secret_name(name: str) -> str:
    """The Secret ClusterMonitoring's Alertmanager on the cnc cluster reads
    (``alertmanager.alertmanagerSpec.useExistingSecret: true``, ``configSecret``)."""
    return f"{name}-alertmanager-config"


def loki_push_url(args: CentralObservabilityArgs) -> str:
    """Where log shippers push: the ingress host if any, else the in-cluster gateway."""
    if args.loki_host:
        return f"https://{args.loki_host}/loki/api/v1/push"
    base = service_url(f"{LOKI.release}-gateway", args.namespace, LOKI_GATEWAY_PORT)
    return f"{base}/loki/api/v1/push"


def grafana_url(args: CentralObservabilityArgs) -> str:
    if args.grafana_host:
        return f"https://{args.grafana_host}"
    return service_url(GRAFANA.release, args.namespace, GRAFANA_PORT)


class CentralObservability(pulumi.ComponentResource):
    """The metrics bucket with Thanos query, store gateway and compactor; Loki on its own
    bucket; Grafana on Aurora Serverless v2 with the repository's dashboards; and the
    Alertmanager configuration as a Secret.

    Inputs are validated (and the dashboards read) before anything is declared
    (``CentralObservabilityError``). Providers come from ``opts`` and reach every child
    through ``parent=self``. With ``protect`` the buckets, the database and the namespace
    are protected.

    Outputs: ``metrics_bucket``, ``metrics_bucket_arn``, ``loki_push_url``,
    ``grafana_url``, ``thanos_query_url``, ``alertmanager_config_secret``.
    """

    metrics_bucket: pulumi.Output[str]
    metrics_bucket_arn: pulumi.Output[str]
    loki_push_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]
    thanos_query_url: pulumi.Output[str]
    alertmanager_config_secret: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: CentralObservabilityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate(name, args)
        dashboards = load_dashboards(args.dashboards_dir)
        super().__init__(TYPE_TOKEN, name, None, opts)

        tags = platform_tags(args.owner, args.team, args.environment, component=name)
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: name}
        child = pulumi.ResourceOptions(parent=self)

        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=labels),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        namespace = ns.metadata.apply(lambda meta: meta.name or args.namespace)
        policies = create_network_policies(
            name,
            namespace,
            labels,
            ingress_namespace=args.ingress_namespace,
            prometheus_namespace=args.alertmanager_namespace,
            parent=self,
        )

        metrics = create_private_bucket(
            f"{name}-metrics",
            metrics_bucket_name(args.environment),
            tags,
            self,
            protect=args.protect,
        )
        logs = create_private_bucket(
            f"{name}-logs", logs_bucket_name(args.environment), tags, self, protect=args.protect
        )

        def role(
            role_name: str, account: str, bucket_arn: pulumi.Output[str], write: bool
        ) -> pulumi.Output[str]:
            created = create_irsa_role(
                f"{name}-{role_name}",
                oidc_provider_arn=args.oidc_provider_arn,
                namespace=args.namespace,
                service_account=account,
                bucket_arn=bucket_arn,
                write=write,
                tags=tags,
                parent=self,
            )
            arn: pulumi.Output[str] = created.arn
            return arn

        storegateway_role = role("thanos-storegateway", THANOS_STOREGATEWAY_SA, metrics.arn, False)
        compactor_role = role("thanos-compactor", THANOS_COMPACTOR_SA, metrics.arn, True)
        loki_role = role("loki", LOKI_SA, logs.arn, True)

        ready = pulumi.ResourceOptions(parent=self, depends_on=[ns, *policies])
        k8s.helm.v3.Release(
            f"{name}-thanos",
            name=THANOS.release,
            namespace=namespace,
            values=thanos_values(
                args,
                bucket=metrics.name,
                storegateway_role_arn=storegateway_role,
                compactor_role_arn=compactor_role,
            ),
            **helm_release_kwargs(THANOS),
            opts=ready,
        )
        k8s.helm.v3.Release(
            f"{name}-loki",
            name=LOKI.release,
            namespace=namespace,
            values=loki_values(args, bucket=logs.name, role_arn=loki_role),
            **helm_release_kwargs(LOKI),
            opts=ready,
        )

        database = create_grafana_database(name, args, namespace, tags, labels, self)
        admin_secret_name = f"{name}-grafana-admin"
        admin_password: pulumi.Output[str] = pulumi.Output.secret(args.grafana_admin_password)
        admin_secret = k8s.core.v1.Secret(
            admin_secret_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=admin_secret_name, namespace=namespace, labels=labels
            ),
            type="Opaque",
            string_data={
                GRAFANA_ADMIN_SECRET_KEYS[0]: "admin",
                GRAFANA_ADMIN_SECRET_KEYS[1]: admin_password,
            },
            opts=pulumi.ResourceOptions(
                parent=self, additional_secret_outputs=["data", "stringData"]
            ),
        )
        dashboards_map = k8s.core.v1.ConfigMap(
            f"{name}-dashboards",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{name}-dashboards",
                namespace=namespace,
                labels={**labels, SIDECAR_LABEL: SIDECAR_LABEL_VALUE},
            ),
            data=dashboards,
            opts=child,
        )
        k8s.helm.v3.Release(
            f"{name}-grafana",
            name=GRAFANA.release,
            namespace=namespace,
            values=grafana_values(
                args,
                database_host=database.endpoint.apply(lambda host: f"{host}:{PORT}"),
                database_name=DATABASE_NAME,
                database_user=MASTER_USERNAME,
                database_secret=database.secret_name,
                password_key=PASSWORD_KEY,
                admin_secret=admin_secret_name,
                root_url=grafana_url(args),
                dashboard_label=(SIDECAR_LABEL, SIDECAR_LABEL_VALUE),
            ),
            **helm_release_kwargs(GRAFANA),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[ns, *policies, *database.resources, admin_secret, dashboards_map],
            ),
        )

        # Only the text is computed inside apply; the Secret is declared outside it.
        rendered = pulumi.Output.from_input(args.alert_routing).apply(render_alertmanager_config)
        alertmanager_yaml: pulumi.Output[str] = pulumi.Output.secret(rendered)
        secret_name = alertmanager_config_secret_name(name)
        k8s.core.v1.Secret(
            secret_name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=secret_name, namespace=args.alertmanager_namespace, labels=labels
            ),
            type="Opaque",
            string_data={ALERTMANAGER_CONFIG_KEY: alertmanager_yaml},
            opts=pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["data", "stringData"],
                depends_on=list(args.alertmanager_depends_on),
            ),
        )

        self.metrics_bucket = metrics.name
        self.metrics_bucket_arn = metrics.arn
        self.loki_push_url = pulumi.Output.from_input(loki_push_url(args))
        self.grafana_url = pulumi.Output.from_input(grafana_url(args))
        self.thanos_query_url = pulumi.Output.from_input(
            service_url(f"{THANOS.release}-query", args.namespace, THANOS_QUERY_PORT)
        )
        self.alertmanager_config_secret = pulumi.Output.from_input(secret_name)
        self.register_outputs(
            {
                "metrics_bucket": self.metrics_bucket,
                "metrics_bucket_arn": self.metrics_bucket_arn,
                "loki_push_url": self.loki_push_url,
                "grafana_url": self.grafana_url,
                "thanos_query_url": self.thanos_query_url,
                "alertmanager_config_secret": self.alertmanager_config_secret,
            }
        )
