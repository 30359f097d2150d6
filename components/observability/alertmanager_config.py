"""Alertmanager's configuration (``alertmanager.yaml``) built from typed settings.

One routing tree: an alert whose ``severity`` or Sloth's ``sloth_severity`` is ``page``
goes to the on-call webhook, ``ticket`` to the SRE channel, anything else to the
low-noise channel (docs/alert-routing.md has the table). Matching ignores case and
surrounding spaces, so ``Page`` or ``"page "`` still pages: a mistyped page that landed
in the low-noise channel would be a page lost without anyone noticing. Every other value
(``pager``, ``critical``, look-alike letters) is low-noise, as the page documents.

Pure (no Pulumi, no I/O) so tests can feed the text to ``amtool``. The text holds the
webhook URLs, which are secrets: the caller stores it only in a Kubernetes Secret, as an
``Output.secret``. Written for Alertmanager 0.25, the version tests run: its webhook
receiver has no ``url_file``, so the URLs are inline.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SecretStr,
    field_validator,
    model_validator,
)


class Receiver(StrEnum):
    """Receiver names: a contract with docs/alert-routing.md and anyone testing routes."""

    ONCALL = "oncall-page"
    SRE_CHANNEL = "sre-channel"
    LOW_NOISE = "low-noise-channel"


SEVERITY_LABELS = ("severity", "sloth_severity")
"""Our rules say ``severity``; Sloth's generated alerts say ``sloth_severity``."""
GROUP_BY = ("alertname", "cluster", "clusterID", "service", "sloth_id")
INHIBIT_EQUAL = ("alertname", "cluster", "clusterID", "sloth_id")
"""A page silences the ticket of the same alert (Sloth names both alerts of an SLO alike,
``sloth_id`` tells SLOs apart) on the same cluster; a label both lack counts as equal."""

# Alertmanager's template for the Mattermost message body (Mattermost renders Markdown).
MESSAGE_TEXT = (
    "{{ range .Alerts }}**{{ .Labels.alertname }}**"
    "{{ with .Labels.severity }} severity={{ . }}{{ end }}"
    "{{ with .Labels.sloth_severity }} sloth_severity={{ . }}{{ end }}"
    "{{ with .Labels.clusterID }} clusterID={{ . }}{{ end }}"
    "{{ with .Annotations.summary }}: {{ . }}{{ end }}"
    "{{ with .Annotations.runbook_url }} - [runbook]({{ . }}){{ end }}\n"
    "{{ end }}"
)


def severity_pattern(value: str) -> str:
    """The regex (Alertmanager anchors it) that matches ``value`` in any case, spaces around."""
    return rf"(?i)\s*{re.escape(value)}\s*"


_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def duration_ms(text: str) -> int:
    """Milliseconds in a Prometheus duration (``30s``, ``1h30m``, ``3d``)."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a Prometheus duration such as 30s, 5m, 4h or 1d")
    return sum(
        int(count) * unit for count, unit in zip(match.groups(), _UNIT_MS, strict=True) if count
    )


def _positive_duration(text: str) -> str:
    if duration_ms(text) == 0:
        raise ValueError(f"{text!r} is zero: give a positive duration such as 30s or 5m")
    return text


def _https_url(value: SecretStr) -> SecretStr:
    """Says what is wrong without echoing any of the URL: its path is the credential."""
    raw = value.get_secret_value()
    if not raw.strip():
        raise ValueError("is empty: set the webhook URL (a Pulumi secret)")
    if any(char.isspace() for char in raw):
        raise ValueError("contains spaces or line breaks (copied with extra text?)")
    try:
        parts = urlsplit(raw)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError("is not a URL") from None
    if parts.scheme != "https":
        raise ValueError(
            "must start with https:// (Alertmanager would send the secret URL in clear text)"
        )
    if not host:
        raise ValueError("has no host after https://")
    return value


_CHANNEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _channel_name(name: str) -> str:
    if not _CHANNEL.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a Mattermost channel name: use the name in the channel's URL "
            "(lower-case letters, digits, - and _; at most 64), e.g. sre-alerts, no #"
        )
    return name


def _label_name(name: str) -> str:
    if not _LABEL.fullmatch(name):
        raise ValueError(f"{name!r} is not a label name (letters, digits and _, not first digit)")
    return name


Duration = Annotated[str, AfterValidator(_positive_duration)]
WebhookUrl = Annotated[SecretStr, AfterValidator(_https_url)]
ChannelName = Annotated[str, AfterValidator(_channel_name)]
LabelName = Annotated[str, AfterValidator(_label_name)]

# hide_input_in_errors: a validation error never quotes what was given (it may be a URL).
_SETTINGS = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Timing(BaseModel):
    """How long a new group waits before its first notification (``group_wait``), a changed
    group between notifications (``group_interval``), an unchanged one before it is
    notified again (``repeat_interval``)."""

    model_config = _SETTINGS

    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration

    @model_validator(mode="after")
    def _repeat_not_before_group_interval(self) -> Timing:
        if duration_ms(self.repeat_interval) < duration_ms(self.group_interval):
            raise ValueError(
                f"repeat_interval {self.repeat_interval!r} is shorter than group_interval "
                f"{self.group_interval!r}: Alertmanager repeats only after a group_interval"
            )
        return self

    def fields(self) -> dict[str, str]:
        return {
            "group_wait": self.group_wait,
            "group_interval": self.group_interval,
            "repeat_interval": self.repeat_interval,
        }


PAGE_TIMING = Timing(group_wait="30s", group_interval="5m", repeat_interval="4h")
TICKET_TIMING = Timing(group_wait="2m", group_interval="15m", repeat_interval="24h")
LOW_NOISE_TIMING = Timing(group_wait="5m", group_interval="30m", repeat_interval="72h")


class OnCallWebhook(BaseModel):
    """The paging service's incoming webhook; gets Alertmanager's webhook JSON."""

    model_config = _SETTINGS

    url: WebhookUrl


class MattermostChannel(BaseModel):
    """A Mattermost channel's incoming webhook: it takes Slack-format payloads, hence
    ``slack_configs``. ``channel`` must be the webhook's own when it is locked to one."""

    model_config = _SETTINGS

    webhook_url: WebhookUrl
    channel: ChannelName


class LabelMatcher(BaseModel):
    """``label op "value"``, Alertmanager's matcher syntax; regexes are anchored."""

    model_config = _SETTINGS

    label: LabelName
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str

    @model_validator(mode="after")
    def _regex_compiles(self) -> LabelMatcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"value {self.value!r} is not a regex: {error}") from None
        return self

    def render(self) -> str:
        quoted = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.label}{self.op}"{quoted}"'


class ExtraRoute(BaseModel):
    """Alerts matching all ``matchers`` go to ``receiver``. Extra routes are tried after the
    page and ticket routes, so none can take a page or a ticket away from its receiver."""

    model_config = _SETTINGS

    matchers: tuple[LabelMatcher, ...]
    receiver: Receiver

    @field_validator("matchers")
    @classmethod
    def _has_matchers(cls, matchers: tuple[LabelMatcher, ...]) -> tuple[LabelMatcher, ...]:
        if not matchers:
            raise ValueError("is empty: a route without matchers would take every alert")
        return matchers


class AlertRoutingSettings(BaseModel):
    """Everything the routing tree needs; ``repr`` and errors never show a URL."""

    model_config = _SETTINGS

    oncall: OnCallWebhook
    sre_channel: MattermostChannel
    low_noise_channel: MattermostChannel
    page_timing: Timing = PAGE_TIMING
    ticket_timing: Timing = TICKET_TIMING
    low_noise_timing: Timing = LOW_NOISE_TIMING
    extra_routes: tuple[ExtraRoute, ...] = ()

    def timing(self, receiver: Receiver) -> Timing:
        return {
            Receiver.ONCALL: self.page_timing,
            Receiver.SRE_CHANNEL: self.ticket_timing,
            Receiver.LOW_NOISE: self.low_noise_timing,
        }[receiver]


def _severity_matcher(label: str, value: str, *, negate: bool = False) -> str:
    op = "!~" if negate else "=~"
    return LabelMatcher(label=label, op=op, value=severity_pattern(value)).render()


def _route(settings: AlertRoutingSettings, receiver: Receiver, matchers: list[str]) -> Any:
    return {"receiver": str(receiver), "matchers": matchers, **settings.timing(receiver).fields()}


def routes(settings: AlertRoutingSettings) -> list[dict[str, Any]]:
    """Page routes, then ticket routes (one per severity label: matchers cannot say "or"),
    then the extra routes; what matches none stays with the root's low-noise receiver."""
    severity_routes = [
        _route(settings, receiver, [_severity_matcher(label, value)])
        for receiver, value in ((Receiver.ONCALL, "page"), (Receiver.SRE_CHANNEL, "ticket"))
        for label in SEVERITY_LABELS
    ]
    extra = [
        _route(settings, route.receiver, [m.render() for m in route.matchers])
        for route in settings.extra_routes
    ]
    return severity_routes + extra


def inhibit_rules() -> list[dict[str, Any]]:
    """A page (by either label) inhibits a ticket (by either label) of the same alert and
    cluster; a target that is itself a page by any label is never inhibited."""
    never_a_page = [_severity_matcher(label, "page", negate=True) for label in SEVERITY_LABELS]
    return [
        {
            "source_matchers": [_severity_matcher(source, "page")],
            "target_matchers": [_severity_matcher(target, "ticket"), *never_a_page],
            "equal": list(INHIBIT_EQUAL),
        }
        for source in SEVERITY_LABELS
        for target in SEVERITY_LABELS
    ]


def _mattermost_receiver(name: Receiver, channel: MattermostChannel) -> dict[str, Any]:
    slack = {
        "api_url": channel.webhook_url.get_secret_value(),
        "channel": channel.channel,
        "send_resolved": True,
        "text": MESSAGE_TEXT,
    }
    return {"name": str(name), "slack_configs": [slack]}


def receivers(settings: AlertRoutingSettings) -> list[dict[str, Any]]:
    oncall = {"url": settings.oncall.url.get_secret_value(), "send_resolved": True}
    return [
        {"name": str(Receiver.ONCALL), "webhook_configs": [oncall]},
        _mattermost_receiver(Receiver.SRE_CHANNEL, settings.sre_channel),
        _mattermost_receiver(Receiver.LOW_NOISE, settings.low_noise_channel),
    ]


def alertmanager_document(settings: AlertRoutingSettings) -> dict[str, Any]:
    """The configuration as data (holds the secret URLs)."""
    root = {
        "receiver": str(Receiver.LOW_NOISE),
        "group_by": list(GROUP_BY),
        **settings.low_noise_timing.fields(),
        "routes": routes(settings),
    }
    return {"route": root, "inhibit_rules": inhibit_rules(), "receivers": receivers(settings)}


def render_alertmanager_config(settings: AlertRoutingSettings) -> str:
    """``alertmanager.yaml`` as text: a secret, because it holds the webhook URLs."""
    return yaml.safe_dump(alertmanager_document(settings), sort_keys=False, width=1000)
