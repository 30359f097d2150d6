"""The name of each Application the cluster generator makes (DESIGN.md §3)."""

from __future__ import annotations

# Argo CD records an Application's name in the tracking label app.kubernetes.io/instance
# of every resource it manages, and a label value is at most 63 characters.
MAX_APPLICATION_NAME = 63


def application_name(app: str, environment: str, cluster_id: str) -> str:
    """``<app>-sre-<env>-<clusterID>``, e.g. ``alloy-sre-prod-customer-prod-1``."""
    return f"{app}-sre-{environment}-{cluster_id}"
