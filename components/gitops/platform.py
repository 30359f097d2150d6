"""``GitOpsPlatform``: Argo CD in the cnc cluster, its clusters, projects and apps.

Argo CD comes from argoproj's ``argo-cd`` chart at an exact version (namespace
``argocd``), with SSO through OIDC, read-only RBAC by default, notifications to the
team's Mattermost channel and ServiceMonitors. Every registered cluster becomes an Argo
CD cluster Secret reached through an IAM role; every application an ``ApplicationSet``
in its own ``AppProject``; an optional root app-of-apps bootstraps the rest from git.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws_policies import trust_policy
from components.gitops import argocd_values, documents, notifications
from components.gitops.args import GitOpsPlatformArgs, RepositoryCredential
from components.gitops.network import create_network_policies
from components.gitops.validation import validate
from components.tags import platform_tags
from components.test_environment.metadata import LABEL_ENVIRONMENT, LABEL_MANAGED_BY, MANAGED_BY

TYPE_TOKEN = "sre:gitops:GitOpsPlatform"
RELEASE_TIMEOUT = 900
RELEASE_HISTORY = 10


def assume_clusters_policy(role_arns: list[str]) -> str:
    """Argo CD's role may assume the registered clusters' roles, and nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": sorted(role_arns)}
            ],
        }
    )


def repository_secret_data(credential: RepositoryCredential) -> dict[str, pulumi.Input[str]]:
    data: dict[str, pulumi.Input[str]] = {"type": credential.type, "url": credential.url}
    if credential.username is not None:
        data["username"] = credential.username
    if credential.password is not None:
        data["password"] = credential.password
    if credential.ssh_private_key is not None:
        data["sshPrivateKey"] = credential.ssh_private_key
    return data


class GitOpsPlatform(pulumi.ComponentResource):
    """Namespace ``argocd`` with its NetworkPolicies, Argo CD's IRSA role, its Secrets
    (OIDC client secret, Mattermost webhook, repository credentials, clusters), the Helm
    release, and the AppProjects, ApplicationSets and root Application.

    Inputs are validated before anything is declared (``GitOpsPlatformError``). The
    kubernetes and aws providers come from ``opts``. Outputs: ``namespace``; ``role_arn``
    (the role every cluster's ``role_arn`` must trust); ``application_sets`` (names).
    """

    namespace: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    application_sets: list[str]

    def __init__(
        self, name: str, args: GitOpsPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_ENVIRONMENT: args.environment}
        self._labels = labels
        namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=argocd_values.NAMESPACE, labels=labels),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        namespace = namespace_resource.metadata.apply(
            lambda meta: meta.name or argocd_values.NAMESPACE
        )
        self._namespace = namespace
        policies = create_network_policies(name, args, namespace, labels, self)
        role, role_policies = self._role(name, args)
        secrets = [
            self._secret(
                "oidc",
                argocd_values.OIDC_SECRET,
                {argocd_values.OIDC_SECRET_KEY: args.oidc.client_secret},
                argocd_values.PART_OF_LABEL,
            ),
            self._secret(
                "notifications",
                notifications.SECRET_NAME,
                {notifications.WEBHOOK_URL_KEY: args.mattermost_webhook_url},
            ),
        ]
        for credential in args.repositories:
            kind = "repo-creds" if credential.template else "repository"
            secrets.append(
                self._secret(
                    f"repo-{credential.name}",
                    f"repo-{credential.name}",
                    repository_secret_data(credential),
                    {documents.SECRET_TYPE_LABEL: kind},
                )
            )
        release = k8s.helm.v3.Release(
            f"{name}-argo-cd",
            chart=argocd_values.CHART,
            version=argocd_values.CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=argocd_values.CHART_REPOSITORY),
            name=argocd_values.RELEASE_NAME,
            namespace=namespace,
            values=argocd_values.chart_values(args, role.arn),
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT,
            max_history=RELEASE_HISTORY,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*secrets, *policies, *role_policies]
            ),
        )
        for cluster in args.clusters:
            self._secret(
                f"cluster-{cluster.cluster_id}",
                f"cluster-{cluster.cluster_id}",
                documents.cluster_secret_data(cluster),
                {documents.SECRET_TYPE_LABEL: "cluster", **documents.cluster_labels(cluster)},
                cluster.annotations,
            )
        projects = {
            project.name: self._custom(
                f"project-{project.name}",
                "AppProject",
                project.name,
                documents.app_project_spec(project, args),
                [release],
            )
            for project in args.projects
        }
        self.application_sets = []
        for app in args.apps:
            self._custom(
                f"appset-{app.name}",
                "ApplicationSet",
                app.name,
                documents.application_set_spec(app, args.environment),
                [release, projects[app.project]],
            )
            self.application_sets.append(app.name)
        if args.root_app is not None:
            bootstrap = self._custom(
                f"project-{documents.BOOTSTRAP_PROJECT}",
                "AppProject",
                documents.BOOTSTRAP_PROJECT,
                documents.bootstrap_project_spec(args),
                [release],
            )
            self._custom(
                documents.ROOT_APP,
                "Application",
                documents.ROOT_APP,
                documents.root_application_spec(args),
                [release, bootstrap],
            )

        self.namespace = namespace
        self.role_arn = role.arn
        self.register_outputs(
            {
                "namespace": self.namespace,
                "role_arn": self.role_arn,
                "application_sets": self.application_sets,
            }
        )

    def _secret(
        self,
        role: str,
        secret_name: str,
        data: Mapping[str, pulumi.Input[str]],
        extra_labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> k8s.core.v1.Secret:
        """A Secret in ``argocd`` whose values are Pulumi secrets."""
        values = {key: pulumi.Output.secret(value) for key, value in data.items()}
        return k8s.core.v1.Secret(
            f"{self._name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=secret_name,
                namespace=self._namespace,
                labels={**self._labels, **(extra_labels or {})},
                annotations=dict(annotations) if annotations else None,
            ),
            type="Opaque",
            string_data=values,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _custom(
        self,
        role: str,
        kind: str,
        object_name: str,
        spec: dict[str, Any],
        depends_on: list[pulumi.Resource],
    ) -> k8s.apiextensions.CustomResource:
        """An Argo CD object in ``argocd``, after the chart (which installs its CRDs)."""
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{role}",
            api_version=documents.API_VERSION,
            kind=kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=self._namespace, labels=self._labels
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _role(
        self, name: str, args: GitOpsPlatformArgs
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicy]]:
        """Argo CD's IRSA role (controller and server), allowed to assume the clusters'."""
        role = aws.iam.Role(
            f"{name}-argocd",
            description=f"Argo CD of {args.environment}: assumes the registered clusters' roles",
            assume_role_policy=trust_policy(
                args.oidc_provider_arn,
                argocd_values.NAMESPACE,
                *argocd_values.AWS_AUTH_SERVICE_ACCOUNTS,
            ),
            max_session_duration=3600,
            tags=platform_tags(args.owner, args.team, args.environment),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if not args.clusters:
            return role, []
        policy = aws.iam.RolePolicy(
            f"{name}-assume-clusters",
            role=role.id,
            policy=assume_clusters_policy([c.role_arn for c in args.clusters]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role, [policy]
