"""The observability platform: metrics, logs, dashboards, alert routing and SLOs.

``ClusterMonitoring`` goes to every cluster, ``CentralObservability`` to the cnc
cluster, ``SloRules`` wherever Prometheus evaluates the SLOs; the Alertmanager routing
tree is a pure function of typed settings (``alertmanager_config``).
"""

from components.observability.central import (
    CentralObservability,
    CentralObservabilityArgs,
    CentralObservabilityError,
    alertmanager_config_secret_name,
    metrics_bucket_arn,
    metrics_bucket_name,
)
from components.observability.cluster_monitoring import (
    RULE_SELECTOR_LABELS,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    ClusterMonitoringError,
)
from components.observability.slo_rules import SloRuleFile, SloRules, SloRulesArgs, SloRulesError

__all__ = [
    "RULE_SELECTOR_LABELS",
    "CentralObservability",
    "CentralObservabilityArgs",
    "CentralObservabilityError",
    "ClusterMonitoring",
    "ClusterMonitoringArgs",
    "ClusterMonitoringError",
    "SloRuleFile",
    "SloRules",
    "SloRulesArgs",
    "SloRulesError",
    "alertmanager_config_secret_name",
    "metrics_bucket_arn",
    "metrics_bucket_name",
]
