"""The Helm chart of the Pulumi Kubernetes Operator and the values we give it.

Pure functions, shared by the component and its tests. Keys are the chart's own
(``deploy/helm/pulumi-operator/values.yaml`` of pulumi/pulumi-kubernetes-operator at
the chart's tag). The chart version is the one whose ``crds/pulumi.com_stacks.yaml`` is
tests/data/crds/pulumi.com_stacks.yaml, so the Stack documents we render are checked
against the CRD the cluster really gets (the file is byte-identical at the chart's tag
``pulumi-kubernetes-operator-2.9.0``, b713fae5a350, and at 475dbc6c9d34, the commit
tests/data/crds/INDEX.md names). Helm installs CRDs only on first install:
bumping the chart needs its CRDs applied by hand (``kubectl apply --server-side``).
"""

from __future__ import annotations

from typing import Any

from components.pulumi_operator.args import PulumiOperatorArgs

# Published by pulumi's chart-publish workflow (`helm push ... oci://ghcr.io/pulumi/helm-charts`).
CHART = "oci://ghcr.io/pulumi/helm-charts/pulumi-kubernetes-operator"
CHART_VERSION = "2.9.0"
RELEASE_NAME = "pulumi-kubernetes-operator"
# Ports of the manager container (the chart's deployment.yaml).
METRICS_PORT = 8383
FILESERVER_PORT = 9090
# The chart's selector labels (``pulumi-kubernetes-operator.selectorLabels``).
OPERATOR_POD_LABELS = {
    "app.kubernetes.io/name": "pulumi-kubernetes-operator",
    "app.kubernetes.io/instance": RELEASE_NAME,
}


def chart_values(args: PulumiOperatorArgs) -> dict[str, Any]:
    """One replica (leader election keeps a second one idle; one is enough for
    environments), JSON logs, explicit requests and limits, RBAC from the chart."""
    return {
        "replicaCount": 1,
        "controller": {"logLevel": "info", "logFormat": "json"},
        "resources": args.resources.as_dict(),
        "serviceMonitor": {"enabled": False},
    }
