"""The webhook poster against a real HTTP server on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from change_mgmt.errors import SreError
from change_mgmt.notify import WebhookError, post_message, validate_webhook_url
from tests.change_mgmt.notify.webhook_server import TOKEN, FakeWebhook


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_posts_slack_format_json(hook: FakeWebhook) -> None:
    attachment = {"color": "#e0a000", "fields": [{"title": "env", "value": "x", "short": True}]}
    post_message(hook.url, "**hello** @dana.kim", attachments=[attachment])
    [received] = hook.requests
    assert received.content_type == "application/json"
    assert received.json() == {"text": "**hello** @dana.kim", "attachments": [attachment]}


def test_without_attachments_sends_only_text(hook: FakeWebhook) -> None:
    post_message(hook.url, "plain")
    assert hook.requests[0].json() == {"text": "plain"}


def test_a_given_client_is_used_and_left_open(hook: FakeWebhook) -> None:
    with httpx.Client() as client:
        post_message(hook.url, "one", client=client)
        post_message(hook.url, "two", client=client)
        assert not client.is_closed
    assert hook.texts() == ["one", "two"]


def test_webhook_error_is_an_sre_error() -> None:
    assert issubclass(WebhookError, SreError)


@pytest.mark.parametrize("status", [400, 403, 404, 500, 503])
def test_non_2xx_fails_without_the_url(hook: FakeWebhook, status: int) -> None:
    hook.fail_next(status)
    with pytest.raises(WebhookError) as caught:
        post_message(hook.url, "hi")
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert caught.value.status == status
    # The fake's error body echoes the path with the token: it must be redacted.
    assert "injected failure" in message
    assert TOKEN not in message and TOKEN not in repr(caught.value)
    assert hook.url not in message and "/hooks/" not in message


def test_mattermost_error_message_is_shown(hook: FakeWebhook) -> None:
    with pytest.raises(WebhookError, match="Invalid webhook"):
        post_message(f"{hook.base_url}/hooks/not-the-hook", "hi")


def test_redirect_is_not_followed(hook: FakeWebhook) -> None:
    hook.fail_next(302)
    with pytest.raises(WebhookError, match="redirect, not followed") as caught:
        post_message(hook.url, "hi")
    assert len(hook.requests) == 1
    assert TOKEN not in str(caught.value)


def test_connection_refused_fails_without_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/hooks/{TOKEN}"
    with pytest.raises(WebhookError, match="could not connect") as caught:
        post_message(url, "hi")
    assert TOKEN not in str(caught.value) and "127.0.0.1" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_hung_webhook_times_out_quickly(hook: FakeWebhook) -> None:
    hook.stall_next()
    started = time.monotonic()
    with pytest.raises(WebhookError, match="timed out") as caught:
        post_message(hook.url, "hi", timeout=0.3)
    assert time.monotonic() - started < 3
    assert TOKEN not in str(caught.value)
    assert len(hook.requests) == 1  # one attempt, no retries


def test_no_retry_after_a_failure(hook: FakeWebhook) -> None:
    hook.fail_next(503)
    with pytest.raises(WebhookError):
        post_message(hook.url, "hi")
    assert len(hook.requests) == 1 and hook.messages == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        (f"ftp://chat.example.com/hooks/{TOKEN}", "must start with https://"),
        (f"chat.example.com/hooks/{TOKEN}", "must start with https://"),
        (f"http://chat.example.com/hooks/{TOKEN}", "must use https"),
        (f"http://10.0.0.1/hooks/{TOKEN}", "must use https"),
        (f"https://bot:{TOKEN}@chat.example.com/hooks/x", "user name or password"),
        (f"https:///hooks/{TOKEN}", "no host"),
        (f"https://chat.example.com:99999/hooks/{TOKEN}", "not a valid URL"),
        (f" https://chat.example.com/hooks/{TOKEN}", "spaces or control"),
        (f"https://chat.example.com/hooks/{TOKEN}\n", "spaces or control"),
    ],
)
def test_bad_urls_are_refused_without_echoing_them(url: str, reason: str) -> None:
    with pytest.raises(WebhookError, match=reason) as caught:
        post_message(url, "hi")
    assert TOKEN not in str(caught.value) and "chat.example.com" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://chat.example.com/hooks/abc",
        "http://127.0.0.1:8065/hooks/abc",
        "http://[::1]:8065/hooks/abc",
        "http://localhost/hooks/abc",
    ],
)
def test_good_urls_pass(url: str) -> None:
    validate_webhook_url(url)


@pytest.mark.parametrize(
    ("text", "attachments", "reason"),
    [
        ("", None, "non-empty text"),
        ("   ", None, "non-empty text"),
        ("x" * 16384, None, "at most 16383"),
        ("hi", [{"when": object()}], "cannot be sent as JSON"),
        ("hi", [{"n": float("nan")}], "cannot be sent as JSON"),
        ("hi", ["not an object"], "list of objects"),
    ],
)
def test_bad_payloads_are_refused_before_sending(
    hook: FakeWebhook, text: str, attachments: list[dict[str, object]] | None, reason: str
) -> None:
    with pytest.raises(WebhookError, match=reason):
        post_message(hook.url, text, attachments=attachments)
    assert hook.requests == []
