"""Grafana Alloy (chart ``alloy``): every node's pod logs, shipped to the central Loki.

Promtail reached end of life; Alloy replaces it. The DaemonSet reads the CRI log files
of its own node's pods under ``/var/log/pods`` (mounted read-only), labels them with
namespace, pod, container and node, and pushes them with the ``clusterID`` label. Pure
functions: the component declares the release.
"""

from __future__ import annotations

import json
from typing import Any

from components.observability.cluster_monitoring_args import (
    ClusterMonitoringArgs,
    ComputeResources,
)
from components.observability.cluster_prometheus import (
    EXTERNAL_CLUSTER_LABEL,
    node_agent_tolerations,
)

CHART = "alloy"
CHART_VERSION = "0.10.1"
CHART_REPOSITORY = "https://grafana.github.io/helm-charts"
RELEASE_NAME = "alloy"
NODE_NAME_ENV = "NODE_NAME"
# Loki keeps streams with ``retention="critical"`` longer (CentralObservability).
RETENTION_LABEL = "retention"
CRITICAL = "critical"
# A pod opts in with this label; its discovery meta label is the sanitised key.
CRITICAL_POD_LABEL = "sre-platform/log-retention"
_CRITICAL_POD_META = "__meta_kubernetes_pod_label_sre_platform_log_retention"
CONFIG_RELOADER_RESOURCES = ComputeResources("10m", "16Mi", "50m", "64Mi")


def _string(text: str) -> str:
    """An Alloy string literal (its escapes are Go's, which JSON's are a subset of)."""
    return json.dumps(text)


def _critical_namespaces_rule(namespaces: tuple[str, ...]) -> str:
    """A relabel rule marking the streams of ``namespaces`` critical (relabel regexes are
    anchored, and the names are validated DNS labels, so no escaping is needed)."""
    if not namespaces:
        return ""
    pattern = "|".join(namespaces)
    return f"""
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    regex         = {_string(pattern)}
    target_label  = {_string(RETENTION_LABEL)}
    replacement   = {_string(CRITICAL)}
  }}"""


def alloy_config(
    loki_push_url: str, cluster_id: str, critical_namespaces: tuple[str, ...] = ()
) -> str:
    """The Alloy configuration: discover this node's pods, tail their logs, push them."""
    return f"""// Pods of this node only: each DaemonSet pod tails its own node's log files.
discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + env({_string(NODE_NAME_ENV)})
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_node_name"]
    target_label  = "node"
  }}
  rule {{
    source_labels = [{_string(_CRITICAL_POD_META)}]
    regex         = {_string(CRITICAL)}
    target_label  = {_string(RETENTION_LABEL)}
    replacement   = {_string(CRITICAL)}
  }}{_critical_namespaces_rule(critical_namespaces)}
  rule {{
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }}
}}

local.file_match "pods" {{
  path_targets = discovery.relabel.pods.output
}}

loki.source.file "pods" {{
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.pods.receiver]
}}

loki.process "pods" {{
  stage.cri {{}}
  forward_to = [loki.write.central.receiver]
}}

loki.write "central" {{
  endpoint {{
    url = {_string(loki_push_url)}
  }}
  external_labels = {{
    {EXTERNAL_CLUSTER_LABEL} = {_string(cluster_id)},
  }}
}}
"""


def chart_values(args: ClusterMonitoringArgs, config: Any) -> dict[str, Any]:
    """The chart's values; ``config`` is the configuration text (or an output of it)."""
    return {
        "fullnameOverride": RELEASE_NAME,
        "crds": {"create": False},
        "alloy": {
            "configMap": {"create": True, "content": config},
            "enableReporting": False,
            "mounts": {"varlog": True},
            "extraEnv": [
                {"name": NODE_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
            ],
            "resources": args.alloy_resources.values(),
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "configReloader": {"resources": CONFIG_RELOADER_RESOURCES.values()},
        "controller": {"type": "daemonset", "tolerations": node_agent_tolerations(args)},
    }
