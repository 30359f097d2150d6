"""Argo CD notifications to the team's Mattermost channel: sync failed, health degraded.

Mattermost incoming webhooks take Slack-format JSON (``{"text": …}``), so a plain
``webhook`` service posts there. Its URL is a secret: the service names it as
``$mattermost-webhook-url``, a key of the ``argocd-notifications-secret`` Secret the
component declares. Keys are those of argo-cd's ``notifications`` values (chart 7.x/8.x)
and the notifications engine's catalog (triggers ``on-sync-failed``, ``on-health-degraded``).
"""

from __future__ import annotations

from typing import Any

import yaml

SERVICE = "mattermost"
SECRET_NAME = "argocd-notifications-secret"
WEBHOOK_URL_KEY = "mattermost-webhook-url"

# Trigger -> (template, condition, message). Conditions are the catalog's.
_EVENTS: dict[str, tuple[str, str, str]] = {
    "on-sync-failed": (
        "app-sync-failed",
        "app.status.operationState != nil and app.status.operationState.phase in "
        "['Error', 'Failed']",
        ":red_circle: Sync of %s failed (%s): %s",
    ),
    "on-health-degraded": (
        "app-health-degraded",
        "app.status.health.status == 'Degraded'",
        ":warning: %s is degraded (%s): %s",
    ),
}
# The Go-template arguments of each message: app name, its URL, the detail.
_DETAIL = {
    "on-sync-failed": ".app.status.operationState.message",
    "on-health-degraded": ".app.status.health.status",
}
_APP_URL = '(print .context.argocdUrl "/applications/" .app.metadata.name)'


def _body(trigger: str, message: str) -> str:
    """A Slack-format body; ``toJson`` quotes the text, so messages cannot break the JSON."""
    arguments = f".app.metadata.name {_APP_URL} {_DETAIL[trigger]}"
    return f'{{"text": {{{{ toJson (printf "{message}" {arguments}) }}}}}}'


def notifications_values(argocd_url: str) -> dict[str, Any]:
    """The chart's ``notifications`` values (resources and scheduling added by the caller)."""
    templates = {
        f"template.{template}": yaml.safe_dump(
            {"webhook": {SERVICE: {"method": "POST", "body": _body(trigger, message)}}},
            sort_keys=False,
        )
        for trigger, (template, _, message) in _EVENTS.items()
    }
    triggers = {
        f"trigger.{trigger}": yaml.safe_dump(
            [{"when": condition, "send": [template]}], sort_keys=False
        )
        for trigger, (template, condition, _) in _EVENTS.items()
    }
    service = {
        "url": f"${WEBHOOK_URL_KEY}",
        "headers": [{"name": "Content-Type", "value": "application/json"}],
    }
    return {
        "enabled": True,
        "argocdUrl": argocd_url,
        # The component declares the Secret itself, so the URL never enters Helm values.
        "secret": {"create": False},
        "notifiers": {f"service.webhook.{SERVICE}": yaml.safe_dump(service, sort_keys=False)},
        "templates": templates,
        "triggers": triggers,
        # Every Application, without per-app annotations.
        "subscriptions": [{"recipients": [SERVICE], "triggers": list(_EVENTS)}],
    }
