"""Names the operator's component and the Stack documents agree on (no Pulumi SDK here).

The Stack resources are rendered outside the component (one per environment request,
by ``change_mgmt.environments.operator_stack``) and must name the namespace, service
account and Secrets the component declares or expects: they come from here.
"""

from __future__ import annotations

STACK_API_VERSION = "pulumi.com/v1"
STACK_KIND = "Stack"
# The operator's own namespace (its Deployment, RBAC, metrics Service).
OPERATOR_NAMESPACE = "pulumi-kubernetes-operator"
# Where the Stack resources live, and so the workspace pod the operator runs per Stack.
# It outlives every Stack in it: destroy runs in a workspace pod, which cannot start in
# a Terminating namespace.
STACKS_NAMESPACE = "environment-stacks"
# The workspace pods' identity: bound only to system:auth-delegator (the workspace agent
# checks the operator's calls with TokenReview and SubjectAccessReview).
WORKSPACE_SERVICE_ACCOUNT = "environment-deployer"
# Created out of band in STACKS_NAMESPACE (never through Pulumi state): the Pulumi access
# token, the git token and the secret config the environment program reads.
CREDENTIALS_SECRET = "environment-stacks-credentials"
ACCESS_TOKEN_KEY = "PULUMI_ACCESS_TOKEN"
GIT_TOKEN_KEY = "gitAccessToken"
SHARED_DB_PASSWORD_KEY = "sharedDbAdminPassword"
# A kubeconfig (key ``config``) for the test cluster, mounted into the workspace pod.
KUBECONFIG_SECRET = "environment-stacks-kubeconfig"
KUBECONFIG_KEY = "config"
KUBECONFIG_DIR = "/etc/sre-platform/kube"
# The agent's gRPC port on every workspace pod; the operator calls it.
WORKSPACE_GRPC_PORT = 50051
# The workspace pod's main container (the operator's name for it).
WORKSPACE_CONTAINER = "pulumi"
