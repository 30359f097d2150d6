"""The fake Jira's own rules, checked with plain httpx (so client bugs cannot hide them)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.jira import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_PAT,
    SEARCH_REMOVED,
    UNBOUNDED,
    FakeJira,
    Fault,
)

BASIC = "Basic " + base64.b64encode(f"{DEFAULT_EMAIL}:{DEFAULT_API_TOKEN}".encode()).decode()
BEARER = f"Bearer {DEFAULT_PAT}"
ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hello ADF"}]}],
}
CHANGE = {"project": {"key": "OPS"}, "issuetype": {"name": "Change"}, "summary": "s"}


# verify=False: these clients speak plain http to loopback; it skips loading the CA bundle.


@pytest.fixture
def cloud() -> Iterator[httpx.Client]:
    with (
        FakeJira.cloud() as fake,
        httpx.Client(
            base_url=fake.url, headers={"Authorization": BASIC}, timeout=2, verify=False
        ) as http,
    ):
        http.fake = fake  # type: ignore[attr-defined]
        yield http


@pytest.fixture
def dc() -> Iterator[httpx.Client]:
    with (
        FakeJira.data_center() as fake,
        httpx.Client(
            base_url=fake.url, headers={"Authorization": BEARER}, timeout=2, verify=False
        ) as http,
    ):
        yield http


def body(response: httpx.Response) -> Any:
    return response.json()


def test_auth_is_checked_per_flavour(cloud: httpx.Client, dc: httpx.Client) -> None:
    assert cloud.get("/rest/api/2/field").status_code == 200
    assert cloud.get("/rest/api/2/field", headers={"Authorization": BEARER}).status_code == 401
    assert dc.get("/rest/api/2/field").status_code == 200
    answer = dc.get("/rest/api/2/field", headers={"Authorization": BASIC})
    assert answer.status_code == 401
    assert answer.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert dc.get("/rest/api/2/field", headers={"Authorization": ""}).status_code == 401


def test_v2_refuses_adf_and_v3_requires_it(cloud: httpx.Client) -> None:
    v2 = cloud.post("/rest/api/2/issue", json={"fields": {**CHANGE, "description": ADF}})
    assert v2.status_code == 400
    assert body(v2)["errors"] == {"description": "Operation value must be a string"}
    v3_text = cloud.post("/rest/api/3/issue", json={"fields": {**CHANGE, "description": "x"}})
    assert v3_text.status_code == 400
    assert "Atlassian Document" in body(v3_text)["errors"]["description"]
    v3 = cloud.post("/rest/api/3/issue", json={"fields": {**CHANGE, "description": ADF}})
    assert v3.status_code == 201
    key = body(v3)["key"]
    issue = body(cloud.get(f"/rest/api/2/issue/{key}"))
    assert issue["fields"]["description"] == "Hello ADF"  # v2 reads plain text

    assert cloud.post(f"/rest/api/2/issue/{key}/comment", json={"body": ADF}).status_code == 400
    assert cloud.post(f"/rest/api/3/issue/{key}/comment", json={"body": "x"}).status_code == 400
    v3_comment = cloud.post(f"/rest/api/3/issue/{key}/comment", json={"body": ADF})
    assert v3_comment.status_code == 201
    assert body(v3_comment)["body"]["type"] == "doc"
    comments = body(cloud.get(f"/rest/api/2/issue/{key}/comment"))["comments"]
    assert [c["body"] for c in comments] == ["Hello ADF"]


def test_cloud_old_search_is_gone_and_dc_has_no_search_jql(
    cloud: httpx.Client, dc: httpx.Client
) -> None:
    gone = cloud.get("/rest/api/2/search", params={"jql": "project = OPS"})
    assert gone.status_code == 410
    assert body(gone)["errorMessages"] == [SEARCH_REMOVED]
    assert cloud.post("/rest/api/3/search", json={"jql": "project = OPS"}).status_code == 410
    assert dc.get("/rest/api/2/search/jql", params={"jql": "project = OPS"}).status_code == 404


def test_cloud_search_refuses_unbounded_jql_and_defaults_to_ids(cloud: httpx.Client) -> None:
    answer = cloud.get("/rest/api/2/search/jql", params={"jql": "ORDER BY created"})
    assert answer.status_code == 400
    assert body(answer)["errorMessages"] == [UNBOUNDED]
    cloud.post("/rest/api/2/issue", json={"fields": CHANGE})
    page = body(cloud.get("/rest/api/2/search/jql", params={"jql": "project = OPS"}))
    assert page == {"issues": [{"id": "10001"}], "isLast": True}
    assert "total" not in page


def test_cloud_cursor_belongs_to_its_query(cloud: httpx.Client) -> None:
    for _ in range(3):
        cloud.post("/rest/api/2/issue", json={"fields": CHANGE})
    first = body(
        cloud.post(
            "/rest/api/2/search/jql",
            json={"jql": "project = OPS", "maxResults": 2, "fields": ["summary"]},
        )
    )
    assert first["isLast"] is False
    token = first["nextPageToken"]
    other = cloud.post(
        "/rest/api/2/search/jql",
        json={"jql": "project = OPS AND labels = x", "nextPageToken": token},
    )
    assert other.status_code == 400
    second = body(
        cloud.post(
            "/rest/api/2/search/jql",
            json={"jql": "project = OPS", "nextPageToken": token, "fields": ["summary"]},
        )
    )
    assert [i["key"] for i in second["issues"]] == ["OPS-3"]
    assert "nextPageToken" not in second


def test_dc_search_by_get_with_offsets(dc: httpx.Client) -> None:
    for _ in range(3):
        dc.post("/rest/api/2/issue", json={"fields": {**CHANGE, "labels": ["l1"]}})
    page = body(
        dc.get(
            "/rest/api/2/search",
            params={"jql": "project = OPS AND labels = l1", "startAt": 1, "maxResults": 1},
        )
    )
    assert (page["startAt"], page["maxResults"], page["total"]) == (1, 1, 3)
    assert [i["key"] for i in page["issues"]] == ["OPS-2"]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = OPS AND summary = x", "Field 'summary' does not exist"),
        ("project = OPS AND summary ~ x", "reserved JQL character"),
        ("project = OPS OR labels = x", "Expecting 'AND'"),
        ("project = OPS ORDER BY updated", "ORDER BY created only"),
        ('project = "OPS', "reserved JQL character"),
        ("labels in (a, b", "Expecting ')'"),
    ],
)
def test_jql_errors(dc: httpx.Client, jql: str, message: str) -> None:
    answer = dc.get("/rest/api/2/search", params={"jql": jql})
    assert answer.status_code == 400
    assert message in body(answer)["errorMessages"][0]


def test_jql_negations(dc: httpx.Client) -> None:
    dc.post("/rest/api/2/issue", json={"fields": {**CHANGE, "labels": ["a"]}})
    dc.post("/rest/api/2/issue", json={"fields": {**CHANGE, "labels": ["b"]}})
    for jql, keys in [
        ("project = OPS AND labels != a", ["OPS-2"]),
        ("project = OPS AND labels not in (a, c)", ["OPS-2"]),
        ("project = OPS AND status = 'Awaiting approval' AND key in (OPS-1)", ["OPS-1"]),
    ]:
        page = body(dc.get("/rest/api/2/search", params={"jql": jql}))
        assert [i["key"] for i in page["issues"]] == keys, jql


def test_transitions_depend_on_the_status(dc: httpx.Client) -> None:
    key = body(dc.post("/rest/api/2/issue", json={"fields": CHANGE}))["key"]
    answer = dc.post(f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "31"}})
    assert answer.status_code == 400
    assert body(answer)["errorMessages"] == ["Transition id '31' is not valid for this issue."]
    for transition_id in ("11", "21", "32"):
        assert (
            dc.post(
                f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": transition_id}}
            ).status_code
            == 204
        )
    issue = body(dc.get(f"/rest/api/2/issue/{key}", params={"fields": "status"}))
    assert issue["fields"]["status"]["name"] == "Failed"
    assert body(dc.get(f"/rest/api/2/issue/{key}/transitions"))["transitions"] == []


def test_faults_match_method_path_and_count(cloud: httpx.Client) -> None:
    fake: FakeJira = cloud.fake  # type: ignore[attr-defined]
    fake.inject(Fault.rate_limited("9", method="POST", path="/comment$", times=2))
    assert cloud.get("/rest/api/2/field").status_code == 200
    key = body(cloud.post("/rest/api/2/issue", json={"fields": CHANGE}))["key"]
    first = cloud.post(f"/rest/api/2/issue/{key}/comment", json={"body": "x"})
    assert (first.status_code, first.headers["Retry-After"]) == (429, "9")
    assert cloud.post(f"/rest/api/2/issue/{key}/comment", json={"body": "x"}).status_code == 429
    assert cloud.post(f"/rest/api/2/issue/{key}/comment", json={"body": "x"}).status_code == 201
    assert len(fake.issue(key).comments) == 1


def test_lost_response_stores_then_hangs_up(cloud: httpx.Client) -> None:
    fake: FakeJira = cloud.fake  # type: ignore[attr-defined]
    fake.inject(Fault.lost_response())
    with pytest.raises(httpx.RemoteProtocolError):
        cloud.post("/rest/api/2/issue", json={"fields": CHANGE})
    assert list(fake.issues) == ["OPS-1"]


def test_requests_are_recorded(cloud: httpx.Client) -> None:
    fake: FakeJira = cloud.fake  # type: ignore[attr-defined]
    cloud.post("/rest/api/2/issue", json={"fields": CHANGE}, params={"updateHistory": "true"})
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/rest/api/2/issue")
    assert recorded.query == {"updateHistory": ["true"]}
    assert recorded.json == {"fields": CHANGE}
    assert recorded.authorization == BASIC


def test_edit_validates_fields_and_stores_nothing_on_error(dc: httpx.Client) -> None:
    key = body(dc.post("/rest/api/2/issue", json={"fields": CHANGE}))["key"]
    bad = dc.put(
        f"/rest/api/2/issue/{key}",
        json={
            "fields": {"summary": "new", "customfield_10044": {"value": "Whenever"}, "status": "x"},
            "update": {"labels": [{"add": "ok"}]},
        },
    )
    assert bad.status_code == 400
    assert body(bad)["errors"] == {
        "customfield_10044": "Option value 'Whenever' is not valid",
        "status": "Field 'status' cannot be set. It is not on the appropriate screen, or unknown.",
    }
    issue = body(dc.get(f"/rest/api/2/issue/{key}"))
    assert issue["fields"]["summary"] == "s" and issue["fields"]["labels"] == []
    good = dc.put(
        f"/rest/api/2/issue/{key}",
        json={
            "fields": {"customfield_10045": "2026-11-27T10:00:00.000+0000"},
            "update": {"labels": [{"add": "a"}, {"add": "b"}, {"remove": "a"}]},
        },
    )
    assert good.status_code == 204
    issue = body(dc.get(f"/rest/api/2/issue/{key}"))
    assert issue["fields"]["labels"] == ["b"]
    assert issue["fields"]["customfield_10045"] == "2026-11-27T10:00:00.000+0000"


def test_stopping_hangs_up_on_kept_alive_connections() -> None:
    """A kept-alive connection ends with the fake: its handler thread does not wait on it
    for ever, and a client's pool sees it closed instead of keeping it."""
    with FakeJira.cloud() as fake:
        host, port = fake.base_url.removeprefix("http://").split(":")
        connection = socket.create_connection((host, int(port)), timeout=5)
        request = (
            f"GET /rest/api/2/field HTTP/1.1\r\nHost: {host}\r\nAuthorization: {BASIC}\r\n\r\n"
        )
        connection.sendall(request.encode())
        answer = connection.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" not in answer
    with connection:
        rest = b""
        while chunk := connection.recv(65536):  # a timeout here: the fake kept it open
            rest += chunk
    assert b"HTTP/" not in rest
