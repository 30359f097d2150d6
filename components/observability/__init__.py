"""The observability platform: metrics, logs, dashboards, alert routing and SLOs."""
