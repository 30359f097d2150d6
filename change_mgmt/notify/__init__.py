"""Chat notifications: Slack-format messages to Mattermost incoming webhooks."""

from change_mgmt.notify.mattermost import (
    DEFAULT_TIMEOUT_SECONDS,
    MAX_TEXT_LENGTH,
    WebhookError,
    post_message,
    validate_webhook_url,
)

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_TEXT_LENGTH",
    "WebhookError",
    "post_message",
    "validate_webhook_url",
]
