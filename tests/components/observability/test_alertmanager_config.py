"""The generated alertmanager.yaml: accepted by amtool 0.25, routes proven with amtool,
settings validated with clear errors that never show a webhook URL."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.observability.alertmanager_config import (
    GROUP_BY,
    MESSAGE_TEXT,
    AlertRoutingSettings,
    Timing,
    render_alertmanager_config,
)
from tests.components.observability.samples import (
    LOW_NOISE,
    LOW_NOISE_URL,
    ONCALL,
    ONCALL_URL,
    SECRETS,
    SRE,
    SRE_URL,
    settings_input,
    write_config,
)
from tests.components.observability.tools import amtool, routed_to
from tests.conftest import REPO_ROOT


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_amtool_accepts_the_generated_configuration(config: Path) -> None:
    result = amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert " - 3 receivers" in result.stdout
    assert " - 4 inhibit rules" in result.stdout
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS)


def test_amtool_would_refuse_a_broken_configuration(config: Path) -> None:
    """The check above can fail: amtool refuses a route to a receiver that does not exist."""
    document = yaml.safe_load(config.read_text())
    document["route"]["routes"][0]["receiver"] = "nobody"
    config.write_text(yaml.safe_dump(document))
    assert amtool("check-config", str(config)).returncode != 0


ROUTES = [
    ({"severity": "page"}, ONCALL),
    ({"severity": "ticket"}, SRE),
    ({"sloth_severity": "page"}, ONCALL),
    ({"sloth_severity": "ticket"}, SRE),
    ({"severity": "warning"}, LOW_NOISE),
    ({"severity": "info"}, LOW_NOISE),
    ({"severity": "none"}, LOW_NOISE),
    ({"alertname": "Watchdog"}, LOW_NOISE),
    # Sloth's page alert often carries a severity of the team's own as well.
    ({"severity": "critical", "sloth_severity": "page"}, ONCALL),
    ({"severity": "warning", "sloth_severity": "ticket"}, SRE),
    # Page and ticket at once: the more urgent wins.
    ({"severity": "ticket", "sloth_severity": "page"}, ONCALL),
    ({"severity": "page", "sloth_severity": "ticket"}, ONCALL),
    # Mistyped case or stray spaces still page (or ticket): never lost in low-noise.
    ({"severity": "Page"}, ONCALL),
    ({"severity": "PAGE"}, ONCALL),
    ({"severity": "page "}, ONCALL),
    ({"sloth_severity": " Ticket"}, SRE),
    # Anything else is low-noise, as docs/alert-routing.md says: look-alikes included.
    ({"severity": "pager"}, LOW_NOISE),
    ({"severity": "pa ge"}, LOW_NOISE),
    ({"severity": "\u0440\u0430ge"}, LOW_NOISE),  # Cyrillic "ра"
    ({"severity": "critical"}, LOW_NOISE),
    ({"severity": ""}, LOW_NOISE),
]


@pytest.mark.parametrize(("labels", "receiver"), ROUTES, ids=json.dumps)
def test_amtool_routes_each_severity_to_its_receiver(
    config: Path, labels: dict[str, str], receiver: str
) -> None:
    assert routed_to(config, labels) == [receiver]


def test_an_extra_route_pages_for_critical_but_cannot_take_a_page_away(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        extra_routes=[
            {"matchers": [{"label": "severity", "value": "critical"}], "receiver": ONCALL},
            {
                "matchers": [{"label": "namespace", "op": "=~", "value": "kube-.*"}],
                "receiver": LOW_NOISE,
            },
        ],
    )
    assert routed_to(config, {"severity": "critical"}) == [ONCALL]
    assert routed_to(config, {"severity": "page", "namespace": "kube-system"}) == [ONCALL]
    assert routed_to(config, {"severity": "ticket", "namespace": "kube-system"}) == [SRE]
    assert routed_to(config, {"severity": "critical ", "namespace": "mattermost"}) == [LOW_NOISE]


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def test_each_receiver_gets_its_own_timing_and_every_route_groups_alike(tmp_path: Path) -> None:
    page = {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"}
    ticket = {"group_wait": "1m", "group_interval": "10m", "repeat_interval": "12h"}
    low = {"group_wait": "10m", "group_interval": "1h", "repeat_interval": "4d"}
    document = _document(
        write_config(tmp_path, page_timing=page, ticket_timing=ticket, low_noise_timing=low)
    )
    root = document["route"]
    assert root["receiver"] == LOW_NOISE
    assert root["group_by"] == list(GROUP_BY)
    assert {"alertname", "clusterID", "sloth_id"} <= set(root["group_by"])
    assert {key: root[key] for key in low} == low
    expected = {ONCALL: page, SRE: ticket}
    for route in root["routes"]:
        assert "group_by" not in route  # inherited from the root
        assert {key: route[key] for key in page} == expected[route["receiver"]]


def test_every_receiver_sends_resolved_notifications_to_its_own_url(config: Path) -> None:
    receivers = {r["name"]: r for r in _document(config)["receivers"]}
    assert set(receivers) == {ONCALL, SRE, LOW_NOISE}
    (oncall,) = receivers[ONCALL]["webhook_configs"]
    (sre,) = receivers[SRE]["slack_configs"]
    (low,) = receivers[LOW_NOISE]["slack_configs"]
    assert (oncall["url"], sre["api_url"], low["api_url"]) == (ONCALL_URL, SRE_URL, LOW_NOISE_URL)
    assert (sre["channel"], low["channel"]) == ("sre-alerts", "sre-low-noise")
    assert all(c["send_resolved"] is True for c in (oncall, sre, low))


def test_inhibition_rules_have_the_shape_amtool_cannot_test(config: Path) -> None:
    """amtool has no inhibition test; test_alertmanager_inhibition.py runs the real thing."""
    rules = _document(config)["inhibit_rules"]
    sources = {rule["source_matchers"][0].split("=~")[0] for rule in rules}
    targets = {rule["target_matchers"][0].split("=~")[0] for rule in rules}
    assert sources == targets == {"severity", "sloth_severity"}
    for rule in rules:
        assert set(rule) == {"source_matchers", "target_matchers", "equal"}
        assert "page" in rule["source_matchers"][0]
        assert "ticket" in rule["target_matchers"][0]
        assert {"alertname", "cluster", "clusterID", "sloth_id"} <= set(rule["equal"])


def test_the_message_template_renders_summary_and_runbook(tmp_path: Path) -> None:
    (tmp_path / "none.tmpl").write_text("")
    alert = {
        "status": "firing",
        "labels": {"alertname": "ChatAvailabilityBurn", "sloth_severity": "page"},
        "annotations": {"summary": "budget burns fast", "runbook_url": "https://r.example/p"},
        "startsAt": "2026-11-27T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
    }
    data = {"receiver": ONCALL, "status": "firing", "alerts": [alert], "externalURL": ""}
    (tmp_path / "data.json").write_text(json.dumps(data))
    result = amtool(
        "template",
        "render",
        f"--template.glob={tmp_path / 'none.tmpl'}",
        f"--template.data={tmp_path / 'data.json'}",
        f"--template.text={MESSAGE_TEXT}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "**ChatAvailabilityBurn** sloth_severity=page: budget burns fast"
        " - [runbook](https://r.example/p)"
    )


# --- settings: clear errors, secrets never shown ------------------------------------


def _errors(**changes: Any) -> tuple[str, list[tuple[str, str]]]:
    with pytest.raises(ValidationError) as caught:
        AlertRoutingSettings.model_validate(settings_input(**changes))
    errors = caught.value.errors()
    located = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in errors]
    return str(caught.value), located


BAD_URLS = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("http://oncall.example.com/hooks/oncall-s3cr3t-7f1c", "must start with https://"),
    ("oncall.example.com/hooks/oncall-s3cr3t-7f1c", "must start with https://"),
    ("https:///hooks/oncall-s3cr3t-7f1c", "has no host"),
    ("https://oncall.example.com/hooks/oncall-s3cr3t-7f1c extra", "contains spaces"),
    ("https://oncall.example.com:oncall-s3cr3t-7f1c/", "is not a URL"),
]


@pytest.mark.parametrize(("url", "problem"), BAD_URLS)
def test_a_bad_on_call_url_is_named_without_being_shown(url: str, problem: str) -> None:
    text, errors = _errors(oncall={"url": url})
    assert len(errors) == 1
    where, message = errors[0]
    assert where == "oncall.url"
    assert problem in message
    assert "oncall-s3cr3t-7f1c" not in text


def test_a_bad_channel_webhook_is_named_by_its_field() -> None:
    text, errors = _errors(low_noise_channel={"webhook_url": "http://chat/x", "channel": "low"})
    assert [where for where, _ in errors] == ["low_noise_channel.webhook_url"]
    assert "http://chat/x" not in text


def test_a_misspelt_key_holding_a_url_is_refused_without_echoing_it() -> None:
    text, errors = _errors(oncall={"url": ONCALL_URL, "webhook_url": ONCALL_URL})
    assert errors == [("oncall.webhook_url", "Extra inputs are not permitted")]
    assert not any(secret in text for secret in SECRETS)


@pytest.mark.parametrize("channel", ["SRE Alerts", "#sre-alerts", "", "-x", "a" * 65])
def test_a_channel_must_be_a_mattermost_channel_name(channel: str) -> None:
    text, errors = _errors(sre_channel={"webhook_url": SRE_URL, "channel": channel})
    assert [where for where, _ in errors] == ["sre_channel.channel"]
    assert "sre1hook5ecret4xq9a" not in text


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        ({"group_wait": "30", "group_interval": "5m", "repeat_interval": "4h"}, "not a Prometheus"),
        ({"group_wait": "0s", "group_interval": "5m", "repeat_interval": "4h"}, "is zero"),
        ({"group_wait": "30s", "group_interval": "5h", "repeat_interval": "4h"}, "shorter than"),
        ({"group_wait": "30s", "group_interval": "5m"}, "Field required"),
    ],
)
def test_bad_timing_is_a_clear_error(timing: dict[str, str], problem: str) -> None:
    _, errors = _errors(page_timing=timing)
    assert len(errors) == 1
    assert errors[0][0].startswith("page_timing")
    assert problem in errors[0][1]


def test_durations_are_compared_as_durations_not_text() -> None:
    Timing(group_wait="30s", group_interval="90m", repeat_interval="1h30m")
    with pytest.raises(ValidationError, match="shorter than"):
        Timing(group_wait="30s", group_interval="1d", repeat_interval="23h59m")


@pytest.mark.parametrize(
    ("route", "where"),
    [
        ({"matchers": [], "receiver": ONCALL}, "extra_routes.0.matchers"),
        (
            {"matchers": [{"label": "team", "value": "db"}], "receiver": "db"},
            "extra_routes.0.receiver",
        ),
        (
            {"matchers": [{"label": "9x", "value": "db"}], "receiver": SRE},
            "extra_routes.0.matchers.0.label",
        ),
        (
            {"matchers": [{"label": "team", "op": "=~", "value": "(db"}], "receiver": SRE},
            "extra_routes.0.matchers.0",
        ),
    ],
)
def test_a_bad_extra_route_is_named(route: dict[str, Any], where: str) -> None:
    _, errors = _errors(extra_routes=[route])
    assert [loc for loc, _ in errors] == [where]


def test_settings_never_show_a_url_in_repr_str_or_json() -> None:
    settings = AlertRoutingSettings.model_validate(settings_input())
    shown = [repr(settings), str(settings), settings.model_dump_json(), repr(settings.oncall)]
    assert not any(secret in text for text in shown for secret in SECRETS)
    assert "**********" in repr(settings.oncall)


def test_rendering_logs_nothing_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = AlertRoutingSettings.model_validate(settings_input())
    text = render_alertmanager_config(settings)
    assert all(url in text for url in (ONCALL_URL, SRE_URL, LOW_NOISE_URL))  # it is the secret
    assert not any(secret in caplog.text for secret in SECRETS)


# --- the routing page -------------------------------------------------------------

PAGE = REPO_ROOT / "docs" / "alert-routing.md"
_ROW = re.compile(r"^\| `([^`]*)` \| `([a-z-]+)` \|", re.MULTILINE)


def _documented_rows() -> list[tuple[dict[str, str], str]]:
    rows = []
    for labels, receiver in _ROW.findall(PAGE.read_text()):
        pairs = [pair.split("=", 1) for pair in labels.split(", ") if pair]
        rows.append(({name: value.strip('"') for name, value in pairs}, receiver))
    return rows


def test_the_routing_page_documents_every_receiver() -> None:
    assert {receiver for _, receiver in _documented_rows()} == {ONCALL, SRE, LOW_NOISE}


def test_the_routing_table_is_what_amtool_routes(config: Path) -> None:
    rows = _documented_rows()
    assert len(rows) >= 8
    wrong = [
        (labels, receiver, routed)
        for labels, receiver in rows
        if (routed := routed_to(config, labels)) != [receiver]
    ]
    assert not wrong, wrong
