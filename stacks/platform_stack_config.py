"""Typed, validated configuration of the platform stacks ``dev``, ``staging`` and ``prod``.

Read once, at start-up, before any resource is declared: one message names every bad
key and the ``pulumi config set`` that fixes it. Plain settings are one pydantic model;
secrets (webhook URLs, the Grafana admin password, Argo CD's OIDC client secret) must be
Pulumi secrets (``pulumi config set --secret``): a plain value where a secret belongs is
refused, since it would sit unencrypted in ``Pulumi.<stack>.yaml`` and in the state.

Placeholders follow stacks/platform_config.py: a real update refuses any key that still
holds its ``[placeholder]`` default of Pulumi.yaml. The demo stack files leave
``accountId`` at its placeholder, and every cluster's OIDC provider must live in that
account, so no demo value can reach a real update.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.ci_access.args import ENVIRONMENT_NAME, REPOSITORY
from components.observability.alertmanager_config import AlertRoutingSettings
from policies.naming import HOST_NAME_PATTERN
from stacks.platform_config import (
    PROJECT,
    PROJECT_FILE,
    StackConfigError,
    placeholder_defaults,
    raw_config,
    refuse_placeholders,
)

PLATFORM_STACKS = ("dev", "staging", "prod")
# The GitHub environment (with required reviewers) that alone may deploy prod.
PROD_DEPLOY_ENVIRONMENT = "production"

_DNS_LABEL = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
_QUANTITY = r"^[0-9]+(Mi|Gi|Ti)$"
_HOST = HOST_NAME_PATTERN
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):oidc-provider/(?P<issuer>.+)$")


class ClusterConfig(BaseModel):
    """One cluster of the environment: what it is, how to reach it, whom IRSA trusts."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Annotated[str, Field(pattern=_DNS_LABEL)]
    type: Literal["cnc", "customer"]
    eks_cluster_name: Annotated[
        str | None, Field(alias="eksClusterName", min_length=1, max_length=100)
    ] = None
    kube_context: Annotated[str | None, Field(alias="kubeContext", min_length=1)] = None
    oidc_provider_arn: Annotated[str, Field(alias="oidcProviderArn")]
    oidc_issuer: Annotated[
        str, Field(alias="oidcIssuer", pattern=r"^[a-z0-9.-]+\.[a-z]{2,}(/[A-Za-z0-9._-]+)*$")
    ]
    prometheus_storage: Annotated[str, Field(alias="prometheusStorage", pattern=_QUANTITY)] = "50Gi"

    @model_validator(mode="after")
    def _one_way_in_and_matching_oidc(self) -> ClusterConfig:
        if (self.eks_cluster_name is None) == (self.kube_context is None):
            raise ValueError(
                "give exactly one of eksClusterName (an EKS cluster in the stack's account "
                "and region) or kubeContext (a context of your kubeconfig)"
            )
        match = _OIDC_ARN.match(self.oidc_provider_arn)
        if match is None:
            raise ValueError(
                "oidcProviderArn must look like "
                "arn:aws:iam::<account>:oidc-provider/<issuer host and path>"
            )
        if match["issuer"] != self.oidc_issuer:
            raise ValueError(
                f"oidcProviderArn names issuer {match['issuer']!r} but oidcIssuer is "
                f"{self.oidc_issuer!r}: they must be the same provider"
            )
        return self

    @property
    def oidc_account(self) -> str:
        match = _OIDC_ARN.match(self.oidc_provider_arn)
        return match["account"] if match else ""


def _empty_is_unset(value: object) -> object:
    """Pulumi.yaml declares ``alertmanagerHost`` with an empty default (a declared key
    without one would be required in every stack, test environments too)."""
    return None if value == "" else value


# Hosts customer clusters reach in the cnc cluster, each with what they send there.
_CUSTOMER_CLUSTERS_NEED = {
    "lokiHost": "push their logs to the cnc cluster's Loki",
    "alertmanagerHost": "send their alerts to the cnc cluster's Alertmanager",
}


class PlatformStackConfig(BaseModel):
    """Every plain (non-secret) key a platform stack reads."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    environment: Annotated[str, Field(pattern=_DNS_LABEL)]
    account_id: Annotated[str, Field(alias="accountId", pattern=r"^[0-9]{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")]
    clusters: Annotated[list[ClusterConfig], Field(min_length=1)]
    db_subnet_group: Annotated[str, Field(alias="dbSubnetGroup", min_length=1)]
    db_security_group_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]],
        Field(alias="dbSecurityGroupIds", min_length=1),
    ]
    backup_retention_days: Annotated[int, Field(alias="backupRetentionDays", ge=1, le=35)] = 7
    # Hostnames of Grafana, Loki's push endpoint and the Alertmanager through the cnc
    # cluster's ingress; customer clusters push logs to Loki and send alerts to the
    # Alertmanager, so a stack with customer clusters needs lokiHost and alertmanagerHost.
    grafana_host: Annotated[str | None, Field(alias="grafanaHost", pattern=_HOST)] = None
    loki_host: Annotated[
        str | None, Field(alias="lokiHost", pattern=_HOST, validate_default=True)
    ] = None
    alertmanager_host: Annotated[
        Annotated[str, Field(pattern=_HOST)] | None,
        BeforeValidator(_empty_is_unset),
        Field(alias="alertmanagerHost", validate_default=True),
    ] = None
    alert_sre_channel: Annotated[str, Field(alias="alertSreChannel", min_length=1)]
    alert_low_noise_channel: Annotated[str, Field(alias="alertLowNoiseChannel", min_length=1)]
    # Argo CD in the cnc cluster (GitOpsPlatform): its external hostname (SSO redirects
    # to https://<argocdHost>), its SSO client, and the SSO groups that get role:admin
    # (everyone else: role:readonly).
    argocd_host: Annotated[str, Field(alias="argocdHost", pattern=_HOST)]
    argocd_oidc_issuer: Annotated[
        str, Field(alias="argocdOidcIssuer", pattern=r"^https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$")
    ]
    argocd_oidc_client_id: Annotated[str, Field(alias="argocdOidcClientId", min_length=1)]
    argocd_admin_groups: Annotated[
        list[Annotated[str, Field(min_length=1)]], Field(alias="argocdAdminGroups")
    ] = []
    # GitHub Actions' access (CiAccess): the repository whose workflows the account's
    # roles trust, and the GitHub environment whose deploy jobs may assume the deployer.
    github_repository: Annotated[
        str, Field(alias="githubRepository", pattern=f"^{REPOSITORY.pattern}$")
    ]
    github_deploy_environment: Annotated[
        str, Field(alias="githubDeployEnvironment", pattern=f"^{ENVIRONMENT_NAME.pattern}$")
    ]
    create_github_oidc_provider: Annotated[bool, Field(alias="createGithubOidcProvider")] = True
    # Operator mode (docs/operator.md): the Pulumi Kubernetes Operator in the cnc cluster
    # deploys every active environment request; its settings are OperatorConfig's.
    pulumi_operator: Annotated[bool, Field(alias="pulumiOperator")] = False
    # ChangeStorage (docs/evidence.md): the shared change ledger's DynamoDB table, the
    # gate's evidence bucket, how long Object Lock keeps evidence (0: no lock), and a
    # customer managed KMS key for both (empty: the AWS managed keys).
    ledger_table_name: Annotated[
        str, Field(alias="ledgerTableName", pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    ] = "sre-ledger"
    evidence_bucket: Annotated[
        str, Field(alias="evidenceBucket", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    ]
    evidence_lock_days: Annotated[int, Field(alias="evidenceLockDays", ge=0, le=3650)] = 0
    change_storage_kms_key_arn: Annotated[
        Annotated[
            str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$")
        ]
        | None,
        BeforeValidator(_empty_is_unset),
        Field(alias="changeStorageKmsKeyArn"),
    ] = None

    @field_validator("github_deploy_environment")
    @classmethod
    def _prod_deploys_from_production(cls, value: str, info: ValidationInfo) -> str:
        """The prod deployer trusts the GitHub environment with the required reviewers."""
        if info.data.get("environment") == "prod" and value != PROD_DEPLOY_ENVIRONMENT:
            raise ValueError(
                f"the prod stack deploys only from the GitHub environment "
                f"{PROD_DEPLOY_ENVIRONMENT!r} (its required reviewers), not {value!r}"
            )
        return value

    @field_validator("loki_host", "alertmanager_host")
    @classmethod
    def _set_when_customer_clusters(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Checked per key (not on the whole model), so the error names the key."""
        clusters = info.data.get("clusters") or []
        if value is None and any(cluster.type == "customer" for cluster in clusters):
            key = cls.model_fields[str(info.field_name)].alias
            raise ValueError(
                f"customer clusters {_CUSTOMER_CLUSTERS_NEED[str(key)]}: set it to its "
                "hostname behind the cnc cluster's ingress"
            )
        return value

    @model_validator(mode="after")
    def _one_cnc_unique_ids_one_account(self) -> PlatformStackConfig:
        ids = [cluster.id for cluster in self.clusters]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"clusters: ids must be unique; repeated: {', '.join(repeated)}")
        cncs = [cluster.id for cluster in self.clusters if cluster.type == "cnc"]
        if len(cncs) != 1:
            raise ValueError(
                f"clusters: exactly one cluster must be of type cnc (the central "
                f"command-and-control cluster); found {len(cncs)}: {', '.join(cncs) or 'none'}"
            )
        for index, cluster in enumerate(self.clusters):
            if cluster.oidc_account != self.account_id:
                raise ValueError(
                    f"clusters[{index}].oidcProviderArn is in account {cluster.oidc_account}, "
                    f"not the stack's accountId {self.account_id}"
                )
        return self

    @property
    def cnc(self) -> ClusterConfig:
        return next(cluster for cluster in self.clusters if cluster.type == "cnc")


# Keys whose value is a list or an object (stored as JSON by `pulumi config set --path`).
_LISTS = {"dbSecurityGroupIds", "argocdAdminGroups"}
# The secret keys, each with what it is (shown when it is missing or not a secret).
SECRET_KEYS: dict[str, str] = {
    "grafanaAdminPassword": "<password>",
    "alertOnCallWebhookUrl": "https://<on-call webhook>",
    "alertSreChannelWebhookUrl": "https://<mattermost incoming webhook>",
    "alertLowNoiseWebhookUrl": "https://<mattermost incoming webhook>",
    "argocdOidcClientSecret": "<OIDC client secret of argocdOidcClientId>",
}
# Where AlertRoutingSettings' fields come from.
_ROUTING_KEYS = {
    ("oncall", "url"): "alertOnCallWebhookUrl",
    ("sre_channel", "webhook_url"): "alertSreChannelWebhookUrl",
    ("sre_channel", "channel"): "alertSreChannel",
    ("low_noise_channel", "webhook_url"): "alertLowNoiseWebhookUrl",
    ("low_noise_channel", "channel"): "alertLowNoiseChannel",
}


@dataclass(frozen=True)
class PlatformSecrets:
    """The stack's secrets, each a secret ``pulumi.Output`` (never a plain string)."""

    grafana_admin_password: pulumi.Output[str]
    alert_routing: pulumi.Output[AlertRoutingSettings]
    argocd_oidc_client_secret: pulumi.Output[str]


def _key_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _set_command(path: str, *, secret: bool = False) -> str:
    flags = "--secret " if secret else ""
    if "[" in path or "." in path:
        return f"`pulumi config set {flags}--path '{PROJECT}:{path}' <value>`"
    return f"`pulumi config set {flags}{PROJECT}:{path} <value>`"


def config_problems(error: ValidationError) -> list[str]:
    """One line per problem: the full key (with its path), what is wrong, the fix."""
    # A default that is validated (validate_default) is reported by field name, not key.
    keys = {name: info.alias or name for name, info in PlatformStackConfig.model_fields.items()}
    lines = []
    for problem in error.errors(include_url=False):
        loc = [part for part in problem["loc"] if part != "__root__"]
        if loc and isinstance(loc[0], str):
            loc[0] = keys.get(loc[0], loc[0])
        path = _key_path(loc) or "(stack)"
        message = problem["msg"].removeprefix("Value error, ")
        fix = _set_command(path) if loc else "see docs/platform.md"
        lines.append(f"  {PROJECT}:{path}: {message} (set it with {fix})")
    return lines


def read_platform_stack_config(project_dir: Path) -> PlatformStackConfig:
    """Validate every plain key of the current platform stack; a real update also
    refuses the placeholders of Pulumi.yaml (stacks/platform_config.py)."""
    raw = raw_config(PlatformStackConfig, lists=_LISTS, documents={"clusters"})
    try:
        settings = PlatformStackConfig.model_validate(raw)
    except ValidationError as exc:
        raise StackConfigError(
            f"invalid configuration of stack {pulumi.get_stack()!r}:\n"
            + "\n".join(config_problems(exc))
        ) from None
    if not pulumi.runtime.is_dry_run():
        refuse_placeholders(
            raw, placeholder_defaults(project_dir / PROJECT_FILE), pulumi.get_stack()
        )
    return settings


def _is_secret(full_key: str) -> bool:
    """Whether the engine holds ``full_key`` encrypted (the SDK's set, or the variable the
    language host passes)."""
    return pulumi.runtime.is_config_secret(full_key) or (
        full_key in pulumi.runtime.get_config_secret_keys_env()
    )


def _plain_secret_values(config: pulumi.Config) -> dict[str, str]:
    problems = []
    values: dict[str, str] = {}
    for key, shown in SECRET_KEYS.items():
        full_key = config.full_key(key)
        value = config.get(key)
        how = f"`pulumi config set --secret {full_key} {shown}`"
        if value is None:
            problems.append(f"  {full_key}: not set (a secret; set it with {how})")
        elif not _is_secret(full_key):
            problems.append(
                f"  {full_key}: is plain config, readable by anyone with the stack file: "
                f"remove it and set it as a secret with {how}"
            )
        else:
            values[key] = value
    if problems:
        raise StackConfigError(f"secrets of stack {pulumi.get_stack()!r}:\n" + "\n".join(problems))
    return values


def read_platform_secrets(settings: PlatformStackConfig) -> PlatformSecrets:
    """The secret keys as secret Outputs; the alert routing is validated here, at start-up
    (errors name the key, never the value)."""
    config = pulumi.Config(PROJECT)
    values = _plain_secret_values(config)
    document = {
        "oncall": {"url": values["alertOnCallWebhookUrl"]},
        "sre_channel": {
            "webhook_url": values["alertSreChannelWebhookUrl"],
            "channel": settings.alert_sre_channel,
        },
        "low_noise_channel": {
            "webhook_url": values["alertLowNoiseWebhookUrl"],
            "channel": settings.alert_low_noise_channel,
        },
    }
    try:
        routing = AlertRoutingSettings.model_validate(document)
    except ValidationError as exc:
        raise StackConfigError(
            f"invalid alert routing of stack {pulumi.get_stack()!r}:\n"
            + "\n".join(_routing_problems(exc))
        ) from None
    return PlatformSecrets(
        grafana_admin_password=config.require_secret("grafanaAdminPassword"),
        alert_routing=pulumi.Output.secret(routing),
        argocd_oidc_client_secret=config.require_secret("argocdOidcClientSecret"),
    )


def _routing_problems(error: ValidationError) -> list[str]:
    lines = []
    for problem in error.errors(include_url=False):
        loc = tuple(str(part) for part in problem["loc"][:2])
        key = _ROUTING_KEYS.get((loc[0], loc[1]) if len(loc) == 2 else ("", ""), "")
        message = problem["msg"].removeprefix("Value error, ")
        secret = key in SECRET_KEYS
        fix = _set_command(key, secret=secret) if key else "see docs/platform.md"
        lines.append(f"  {PROJECT}:{key or '.'.join(loc)}: {message} (set it with {fix})")
    return lines


def secret_config_keys(stack_config: Mapping[str, Any]) -> list[str]:
    """The fully qualified secret keys present in ``stack_config`` (for mock runs)."""
    return [f"{PROJECT}:{key}" for key in SECRET_KEYS if f"{PROJECT}:{key}" in stack_config]


class OperatorConfig(BaseModel):
    """Settings of operator mode, read only when ``pulumiOperator`` is on (so their
    placeholders stop a real update only of a stack that uses them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # https URL of this repository, which the operator clones (at the deployed commit).
    operator_repo_url: Annotated[
        str,
        Field(
            alias="operatorRepoUrl",
            pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)+$",
        ),
    ]
    # IAM role (IRSA) of the workspace pods; empty: they get no AWS credentials.
    operator_workspace_role_arn: Annotated[
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")]
        | None,
        BeforeValidator(_empty_is_unset),
        Field(alias="operatorWorkspaceRoleArn"),
    ] = None


def read_operator_config(project_dir: Path) -> OperatorConfig:
    """Validate the operator-mode keys; a real update refuses their placeholders."""
    raw = raw_config(OperatorConfig)
    try:
        settings = OperatorConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"  {PROJECT}:{'.'.join(map(str, p['loc']))}: "
            f"{p['msg'].removeprefix('Value error, ')} "
            f"(set it with {_set_command('.'.join(map(str, p['loc'])))})"
            for p in exc.errors(include_url=False)
        ]
        raise StackConfigError(
            f"invalid operator settings of stack {pulumi.get_stack()!r} "
            "(pulumiOperator is on):\n" + "\n".join(problems)
        ) from None
    if not pulumi.runtime.is_dry_run():
        refuse_placeholders(
            raw, placeholder_defaults(project_dir / PROJECT_FILE), pulumi.get_stack()
        )
    return settings
