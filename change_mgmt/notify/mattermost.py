"""Post one Slack-format message to a Mattermost incoming webhook.

Mattermost's incoming webhooks accept Slack's payload, ``{"text": ..., "attachments":
[...]}``, so the same poster serves any Slack-compatible endpoint. The webhook URL is
a secret (its path is the credential: whoever knows it may post as the hook), so no
message, exception or log line made here ever contains it, nor any part of its path.

One attempt with short timeouts and no retries: callers run on a schedule, and the
next run is the retry. httpx is imported on first use, so importing this module costs
nothing (``sre --help`` stays fast).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from change_mgmt.errors import SreError

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_SECONDS = 5.0
"""Connect, read and write timeout of one post: a chat server answers in well under it."""
MAX_TEXT_LENGTH = 16383
"""Mattermost's largest post (characters); a longer text would be refused or cut."""
_DETAIL_LIMIT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class WebhookError(SreError):
    """A message could not be posted: a bad URL or payload, no answer, or not a 2xx.

    ``status`` is the HTTP status when the webhook answered. The message never holds
    the webhook URL or any part of its path.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def validate_webhook_url(url: str) -> None:
    """Refuse a URL that is not ``https://host/...`` (or ``http://`` to a loopback
    address, for tests). The reasons name what is wrong, never the URL's text."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("the webhook URL is empty")
    if url != url.strip() or _CONTROL.search(url) or " " in url:
        raise WebhookError("the webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise WebhookError("the webhook URL is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise WebhookError("the webhook URL must start with https://")
    host = parts.hostname
    if not host:
        raise WebhookError("the webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("the webhook URL must not carry a user name or password")
    if scheme == "http" and not _is_loopback(host):
        raise WebhookError(
            "the webhook URL must use https (plain http is allowed only to a loopback "
            "address, for tests): the URL is a credential"
        )


def post_message(
    url: str,
    text: str,
    *,
    attachments: list[dict[str, Any]] | None = None,
    client: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Post ``text`` (Markdown) and optional Slack-style ``attachments`` to the webhook.

    Returns once the webhook answered 2xx; raises :class:`WebhookError` otherwise (a bad
    URL or payload, a timeout, a refused connection, a redirect or any other status).
    ``client`` is used as given and left open; without one, a client of our own is
    made and closed. Redirects are never followed (they would carry the secret path
    elsewhere).
    """
    validate_webhook_url(url)
    body = _payload(text, attachments)
    import httpx

    from change_mgmt.http import new_client

    own = client is None
    http = new_client() if client is None else client
    try:
        response = http.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        phase = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for an answer"
        raise WebhookError(f"the webhook timed out {phase} (after {timeout:g} s)") from None
    except httpx.ConnectError as exc:
        reason = _redacted(str(exc), url) or "connection failed"
        raise WebhookError(f"could not connect to the webhook ({reason})") from None
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise WebhookError(f"the webhook gave no usable answer ({type(exc).__name__})") from None
    finally:
        if own:
            http.close()
    if response.is_success:
        return
    status = response.status_code
    if response.is_redirect:
        raise WebhookError(
            f"the webhook answered HTTP {status} (a redirect, not followed): check the URL",
            status=status,
        )
    detail = _detail(response, url)
    raise WebhookError(
        f"the webhook answered HTTP {status}{f': {detail}' if detail else ''}", status=status
    )


def _payload(text: str, attachments: list[dict[str, Any]] | None) -> bytes:
    if not isinstance(text, str) or not text.strip():
        raise WebhookError("a webhook message needs a non-empty text")
    if len(text) > MAX_TEXT_LENGTH:
        raise WebhookError(
            f"the message text is {len(text)} characters; Mattermost takes at most "
            f"{MAX_TEXT_LENGTH}"
        )
    payload: dict[str, Any] = {"text": text}
    if attachments is not None:
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise WebhookError("attachments must be a list of objects (Slack attachments)")
        payload["attachments"] = attachments
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise WebhookError(f"the message cannot be sent as JSON ({exc})") from None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _detail(response: httpx.Response, url: str) -> str:
    """A short, single-line reason from the answer: Mattermost's ``message`` when it
    sent JSON, else the start of the body, with every trace of the URL taken out."""
    try:
        text = response.text
    except Exception:  # undecodable body: the status says enough
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        text = data["message"]
    return _redacted(text, url)


def _redacted(text: str, url: str) -> str:
    """``text`` on one line, cut short, without the URL, its path or any path segment."""
    parts = urlsplit(url)
    secrets = [url, url.rstrip("/"), parts.path, parts.query]
    secrets += [segment for segment in parts.path.split("/") if len(segment) >= 4]
    for secret in sorted((s for s in secrets if s and s != "/"), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > _DETAIL_LIMIT:
        text = text[: _DETAIL_LIMIT - 1] + "…"
    return text
