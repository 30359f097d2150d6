"""The platform stack program (stacks ``dev``, ``staging``, ``prod``): observability.

One explicit aws provider (pinned to the stack's account and region) and one explicit
kubernetes provider per cluster; the stack files disable the default providers, so
nothing can land in an ambient kube context or AWS profile. The central stack
(``CentralObservability``) goes to the ``cnc`` cluster, ``ClusterMonitoring`` and the SLO
rules (``SloRules``) to every cluster, Argo CD (``GitOpsPlatform``, with the clusters and
applications of ``gitops/``) to the cnc cluster; the other clusters send their alerts to the cnc
cluster's Alertmanager at ``alertmanagerHost``. In production (the policy pack's tier of the
stack) stateful resources are declared ``protect=True``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.change_storage import ChangeStorage, ChangeStorageArgs, ChangeStorageError
from components.gitops import (
    GitOpsPlatform,
    GitOpsPlatformArgs,
    GitOpsPlatformError,
    GroupBinding,
    OidcSettings,
)
from components.observability.central import (
    CentralObservability,
    CentralObservabilityArgs,
    CentralObservabilityError,
    alertmanager_config_secret_name,
    loki_push_url,
    metrics_bucket_arn,
    metrics_bucket_name,
)
from components.observability.cluster_monitoring import (
    RULE_SELECTOR_LABELS,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    ClusterMonitoringError,
)
from components.observability.cluster_prometheus import THANOS_SIDECAR_ENDPOINT
from components.observability.slo_rules import SloRules, SloRulesError
from policies.config import PolicyConfig
from stacks.ci_access_config import declare_ci_access
from stacks.environment_operator import declare_environment_operator
from stacks.gitops_args import GitOpsInventory, argo_cd_charts, gitops_inventory
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import (
    ClusterConfig,
    PlatformSecrets,
    PlatformStackConfig,
    read_platform_secrets,
    read_platform_stack_config,
)
from stacks.slo_rules import slo_rules_args

PRODUCTION_TIER = "production"
# Environments whose Argo CD runs highly available (several replicas, Redis HA).
HIGH_AVAILABILITY_ENVIRONMENTS = frozenset({"staging", "prod"})
OIDC_NAME = "SSO"
DASHBOARDS_DIR = "dashboards"
CENTRAL_NAMESPACE = "observability"  # CentralObservabilityArgs.namespace
# kubeconfig's exec credential plugin, as `aws eks update-kubeconfig` writes it.
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


def eks_kubeconfig(cluster_name: str, region: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig that reaches ``cluster_name`` with a token from ``aws eks get-token``
    (no static credential in the state)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": EXEC_API_VERSION,
                            "command": "aws",
                            "args": [
                                "--region",
                                region,
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--output",
                                "json",
                            ],
                        }
                    },
                }
            ],
        }
    )


def aws_provider(settings: PlatformStackConfig) -> aws.Provider:
    """The only aws provider: refuses any other account than the configured one."""
    return aws.Provider(
        f"aws-{settings.environment}",
        region=settings.region,
        allowed_account_ids=[settings.account_id],
    )


def kubernetes_provider(cluster: ClusterConfig, region: str, aws_: aws.Provider) -> k8s.Provider:
    """The cluster's own provider: a kubeconfig context, or an EKS cluster looked up in
    the stack's account."""
    name = f"k8s-{cluster.id}"
    if cluster.kube_context is not None:
        return k8s.Provider(name, context=cluster.kube_context)
    assert cluster.eks_cluster_name is not None  # the config model requires one of both
    eks_name = cluster.eks_cluster_name
    found = aws.eks.get_cluster_output(
        name=eks_name, opts=pulumi.InvokeOutputOptions(provider=aws_)
    )
    kubeconfig = pulumi.Output.all(found.endpoint, found.certificate_authorities).apply(
        lambda parts: eks_kubeconfig(eks_name, region, parts[0], parts[1][0]["data"])
    )
    return k8s.Provider(name, kubeconfig=kubeconfig)


def build(project_dir: Path, policy: PolicyConfig) -> None:
    """Declare the platform of the current stack from its validated config."""
    settings = read_platform_stack_config(project_dir)
    secrets = read_platform_secrets(settings)
    protect = policy.tier_of(pulumi.get_stack()) == PRODUCTION_TIER
    aws_ = aws_provider(settings)
    providers = {
        cluster.id: kubernetes_provider(cluster, settings.region, aws_)
        for cluster in settings.clusters
    }
    declare_observability(project_dir, settings, secrets, aws_, providers, protect=protect)
    # GitHub Actions' previewer and deployer roles: the control on who changes the account.
    declare_ci_access(settings, aws_)
    declare_change_storage(settings, aws_, protect=protect)
    if settings.pulumi_operator:  # operator mode: docs/operator.md
        cnc = providers[settings.cnc.id]
        declare_environment_operator(project_dir, settings.environment, policy, cnc)


def declare_change_storage(
    settings: PlatformStackConfig, aws_: aws.Provider, *, protect: bool
) -> ChangeStorage:
    """The shared change ledger's table and the gate's evidence bucket (docs/evidence.md);
    exports the SRE_LEDGER_URL and SRE_EVIDENCE_URL that point the sre CLI at them."""
    try:
        storage = ChangeStorage(
            f"changes-{settings.environment}",
            ChangeStorageArgs(
                environment=settings.environment,
                table_name=settings.ledger_table_name,
                bucket_name=settings.evidence_bucket,
                kms_key_arn=settings.change_storage_kms_key_arn,
                evidence_lock_days=settings.evidence_lock_days,
                protect=protect,
            ),
            pulumi.ResourceOptions(providers={"aws": aws_}),
        )
    except ChangeStorageError as exc:
        raise StackConfigError(f"stack {pulumi.get_stack()!r}: {exc}") from None
    region = settings.region
    pulumi.export(
        "ledgerUrl", storage.table_name.apply(lambda t: f"dynamodb://{t}?region={region}")
    )
    pulumi.export("evidenceUrl", storage.bucket_name.apply(lambda b: f"s3://{b}?region={region}"))
    return storage


def declare_observability(
    project_dir: Path,
    settings: PlatformStackConfig,
    secrets: PlatformSecrets,
    aws_: aws.Provider,
    providers: dict[str, k8s.Provider],
    *,
    protect: bool,
) -> None:
    """CentralObservability in the cnc cluster, then ClusterMonitoring and the SLO rules
    in every cluster (the cnc one included), each through its cluster's provider."""
    cnc = settings.cnc
    slo_args = slo_rules_args(project_dir, labels=RULE_SELECTOR_LABELS)
    # One owner per chart and cluster: where gitops/ delivers a monitoring chart, Argo CD.
    inventory = gitops_inventory(project_dir, settings.environment)
    by_argo_cd = argo_cd_charts(inventory)
    central_name = f"observability-{settings.environment}"
    try:
        central_args = CentralObservabilityArgs(
            environment=settings.environment,
            account_id=settings.account_id,
            region=settings.region,
            alert_routing=secrets.alert_routing,
            grafana_admin_password=secrets.grafana_admin_password,
            dashboards_dir=project_dir / DASHBOARDS_DIR,
            db_subnet_group=settings.db_subnet_group,
            db_security_group_ids=tuple(settings.db_security_group_ids),
            oidc_provider_arn=cnc.oidc_provider_arn,
            oidc_issuer=cnc.oidc_issuer,
            backup_retention_days=settings.backup_retention_days,
            protect=protect,
            grafana_host=settings.grafana_host,
            loki_host=settings.loki_host,
            thanos_store_endpoints=(THANOS_SIDECAR_ENDPOINT,),
        )
        push_url = loki_push_url(central_args)
        # The cnc cluster's monitoring comes first: its namespace holds the Alertmanager
        # whose configuration Secret the central stack writes, and its Thanos sidecar is
        # what the central Thanos Query reads.
        monitoring = {
            cnc.id: _monitor_cluster(
                settings,
                cnc,
                aws_,
                providers[cnc.id],
                push_url,
                central_alertmanager=alertmanager_config_secret_name(central_name),
                argo_cd_charts=by_argo_cd.get(cnc.id, frozenset()),
            )
        }
        central = CentralObservability(
            central_name,
            dataclasses.replace(central_args, alertmanager_depends_on=(monitoring[cnc.id],)),
            pulumi.ResourceOptions(providers={"kubernetes": providers[cnc.id], "aws": aws_}),
        )
        for cluster in settings.clusters:
            if cluster.id != cnc.id:
                monitoring[cluster.id] = _monitor_cluster(
                    settings,
                    cluster,
                    aws_,
                    providers[cluster.id],
                    push_url,
                    argo_cd_charts=by_argo_cd.get(cluster.id, frozenset()),
                )
        for cluster in settings.clusters:
            SloRules(
                f"slo-rules-{cluster.id}",
                slo_args,
                pulumi.ResourceOptions(
                    provider=providers[cluster.id], depends_on=[monitoring[cluster.id]]
                ),
            )
        gitops = declare_gitops(
            _with_cluster_annotations(inventory, monitoring),
            settings,
            secrets,
            pulumi.ResourceOptions(
                providers={"kubernetes": providers[cnc.id], "aws": aws_},
                # Argo CD's ServiceMonitors need the CRD kube-prometheus-stack installs.
                depends_on=[monitoring[cnc.id]],
            ),
            protect=protect,
        )
    except (
        CentralObservabilityError,
        ClusterMonitoringError,
        SloRulesError,
        GitOpsPlatformError,
    ) as exc:
        raise StackConfigError(f"stack {pulumi.get_stack()!r}: {exc}") from None

    pulumi.export("environment", settings.environment)
    pulumi.export("grafanaUrl", central.grafana_url)
    pulumi.export("lokiPushUrl", central.loki_push_url)
    pulumi.export("metricsBucket", central.metrics_bucket)
    pulumi.export("argocdRoleArn", gitops.role_arn)
    pulumi.export(
        "clusters",
        {
            cluster_id: {"namespace": m.namespace, "thanosRoleArn": m.thanos_role_arn}
            for cluster_id, m in monitoring.items()
        },
    )


def _monitor_cluster(
    settings: PlatformStackConfig,
    cluster: ClusterConfig,
    aws_: aws.Provider,
    k8s_: k8s.Provider,
    push_url: str,
    *,
    central_alertmanager: str | None = None,
    argo_cd_charts: frozenset[str] = frozenset(),
) -> ClusterMonitoring:
    """Monitoring of one cluster; ``central_alertmanager`` (the cnc cluster only) is the
    Secret holding the platform's routing tree, which that cluster's Alertmanager reads
    and serves at ``alertmanagerHost``, and the central Thanos Query may read that
    cluster's Prometheus and sidecar. Every other cluster sends its alerts (the SLO
    alerts included) to that Alertmanager through the cnc cluster's ingress."""
    central = central_alertmanager is not None
    host = settings.alertmanager_host
    return ClusterMonitoring(
        f"monitoring-{cluster.id}",
        ClusterMonitoringArgs(
            environment=settings.environment,
            cluster_id=cluster.id,
            metrics_bucket=metrics_bucket_name(settings.environment),
            metrics_bucket_arn=metrics_bucket_arn(settings.environment),
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            loki_push_url=push_url,
            prometheus_storage=cluster.prometheus_storage,
            bucket_region=settings.region,
            alertmanager=central,
            alertmanager_config_secret=central_alertmanager,
            alertmanager_host=host if central else None,
            external_alertmanagers=(f"https://{host}",) if host and not central else (),
            query_namespaces=(CENTRAL_NAMESPACE,) if central else (),
            argo_cd_charts=argo_cd_charts,
        ),
        pulumi.ResourceOptions(providers={"kubernetes": k8s_, "aws": aws_}),
    )


def _with_cluster_annotations(
    inventory: GitOpsInventory, monitoring: dict[str, ClusterMonitoring]
) -> GitOpsInventory:
    """Each monitored cluster's Secret carries its Thanos role ARN and Prometheus volume
    size, for Argo CD's kube-prometheus-stack there (``cluster_monitoring_handover``)."""
    clusters = tuple(
        dataclasses.replace(
            cluster,
            annotations={**cluster.annotations, **monitoring[cluster.name].argo_cd_annotations},
        )
        if cluster.name in monitoring
        else cluster
        for cluster in inventory.clusters
    )
    return dataclasses.replace(inventory, clusters=clusters)


def declare_gitops(
    inventory: GitOpsInventory,
    settings: PlatformStackConfig,
    secrets: PlatformSecrets,
    opts: pulumi.ResourceOptions,
    *,
    protect: bool,
) -> GitOpsPlatform:
    """Argo CD in the cnc cluster with ``gitops/`` of the environment; an application
    the component cannot declare as written is left out with a warning naming it."""
    for app, reason in inventory.left_out.items():
        pulumi.log.warn(
            f"gitops/apps/{settings.environment}.yaml: application {app!r} is not "
            f"declared by GitOpsPlatform: {reason}"
        )
    cnc = settings.cnc
    return GitOpsPlatform(
        f"gitops-{settings.environment}",
        GitOpsPlatformArgs(
            environment=settings.environment,
            url=f"https://{settings.argocd_host}",
            oidc=OidcSettings(
                name=OIDC_NAME,
                issuer=settings.argocd_oidc_issuer,
                client_id=settings.argocd_oidc_client_id,
                client_secret=secrets.argocd_oidc_client_secret,
            ),
            oidc_provider_arn=cnc.oidc_provider_arn,
            oidc_issuer=cnc.oidc_issuer,
            # Notifications go to the SRE channel the alerts use.
            mattermost_webhook_url=secrets.alert_routing.apply(
                lambda routing: routing.sre_channel.webhook_url.get_secret_value()
            ),
            clusters=inventory.clusters,
            apps=inventory.apps,
            projects=inventory.projects,
            group_bindings=tuple(
                GroupBinding(group=group, role="admin") for group in settings.argocd_admin_groups
            ),
            high_availability=settings.environment in HIGH_AVAILABILITY_ENVIRONMENTS,
            protect=protect,
        ),
        opts,
    )
