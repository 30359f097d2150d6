"""Sample settings with recognisable secret URLs, and the configuration they render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.observability.alertmanager_config import (
    AlertRoutingSettings,
    Receiver,
    render_alertmanager_config,
)

ONCALL_URL = "https://oncall.example.com/integrations/v1/alertmanager/oncall-s3cr3t-7f1c/"
SRE_URL = "https://chat.example.com/hooks/sre1hook5ecret4xq9a"
LOW_NOISE_URL = "https://chat.example.com/hooks/low1hook5ecret8zk2b"
SECRETS = (ONCALL_URL, "oncall-s3cr3t-7f1c", "sre1hook5ecret4xq9a", "low1hook5ecret8zk2b")

ONCALL, SRE, LOW_NOISE = (str(r) for r in Receiver)


def settings_input(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "oncall": {"url": ONCALL_URL},
        "sre_channel": {"webhook_url": SRE_URL, "channel": "sre-alerts"},
        "low_noise_channel": {"webhook_url": LOW_NOISE_URL, "channel": "sre-low-noise"},
    }
    return values | changes


def write_config(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "alertmanager.yaml"
    settings = AlertRoutingSettings.model_validate(settings_input(**changes))
    path.write_text(render_alertmanager_config(settings))
    return path
