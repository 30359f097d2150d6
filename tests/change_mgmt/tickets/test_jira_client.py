"""Each call of the Jira client against the fake Jira over real HTTP, as Cloud and as DC."""

from __future__ import annotations

import base64
import time

import pytest
from pydantic import SecretStr

from change_mgmt.tickets import (
    ApprovalDecision,
    CloudAuth,
    DataCenterAuth,
    FieldNotFound,
    JiraAuthError,
    JiraClient,
    JiraError,
    JiraFieldNames,
    JiraFlavor,
    TicketInputError,
    TransitionNotAvailable,
)
from tests.change_mgmt.tickets.conftest import CHANGE, MakeClient
from tests.fakes.jira import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_PAT,
    FakeField,
    FakeJira,
    Fault,
)


def create(client: JiraClient, summary: str = "Change prod", **fields: object) -> str:
    return client.create_issue({**CHANGE, "summary": summary, **fields}).key


# --- auth ----------------------------------------------------------------------------------


def test_each_flavour_sends_its_own_auth_scheme(jira: FakeJira, client: JiraClient) -> None:
    create(client)
    sent = jira.requests[-1].authorization
    if jira.flavor == "cloud":
        assert client.flavor is JiraFlavor.CLOUD
        pair = base64.b64encode(f"{DEFAULT_EMAIL}:{DEFAULT_API_TOKEN}".encode()).decode()
        assert sent == f"Basic {pair}"
    else:
        assert client.flavor is JiraFlavor.DATA_CENTER
        assert sent == f"Bearer {DEFAULT_PAT}"


def test_wrong_scheme_is_rejected_with_the_scheme_named(
    jira: FakeJira, make_client: MakeClient
) -> None:
    wrong = (
        DataCenterAuth(token=SecretStr(DEFAULT_PAT))
        if jira.flavor == "cloud"
        else CloudAuth(email=DEFAULT_EMAIL, api_token=SecretStr(DEFAULT_API_TOKEN))
    )
    with pytest.raises(JiraAuthError) as caught:
        make_client(jira, auth=wrong).get_issue("OPS-1")
    assert caught.value.status == 401
    text = str(caught.value)
    assert ("Bearer auth" if jira.flavor == "cloud" else "Basic auth") in text
    assert "SRE_JIRA_PAT" in text if jira.flavor == "cloud" else "SRE_JIRA_API_TOKEN" in text
    assert "You are not authenticated" in text
    assert len(jira.requests) == 1  # an auth failure is not retried


def test_right_scheme_wrong_token_is_rejected(jira: FakeJira, make_client: MakeClient) -> None:
    wrong = (
        CloudAuth(email=DEFAULT_EMAIL, api_token=SecretStr("not-the-right-token"))
        if jira.flavor == "cloud"
        else DataCenterAuth(token=SecretStr("not-the-right-pat"))
    )
    with pytest.raises(JiraAuthError, match="HTTP 401"):
        make_client(jira, auth=wrong).fields()


def test_403_says_permission_or_auth(cloud_jira: FakeJira, make_client: MakeClient) -> None:
    cloud_jira.inject(
        Fault.error(403, ["You do not have permission to create issues in this project."])
    )
    with pytest.raises(JiraAuthError) as caught:
        create(make_client(cloud_jira))
    assert "lack a permission" in str(caught.value)
    assert caught.value.messages == (
        "You do not have permission to create issues in this project.",
    )


def test_captcha_after_failed_logins_is_explained(
    dc_jira: FakeJira, make_client: MakeClient
) -> None:
    dc_jira.inject(Fault.error(403, headers={"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"}))
    with pytest.raises(JiraAuthError, match="CAPTCHA"):
        make_client(dc_jira).get_issue("OPS-1")


# --- issues --------------------------------------------------------------------------------


def test_create_then_get(jira: FakeJira, client: JiraClient) -> None:
    ref = client.create_issue(
        {
            **CHANGE,
            "summary": "Upgrade Thanos",
            "description": "Plain *wiki* text",
            "labels": ["sre-change-abc"],
            "customfield_10042": {"value": "High"},
        }
    )
    assert ref.key == "OPS-1"
    assert ref.id == str(jira.issue("OPS-1").id)
    assert ref.self_url.endswith(f"/rest/api/2/issue/{ref.id}")
    sent = jira.requests_to("POST", "/rest/api/2/issue")[0].json
    assert sent["fields"]["description"] == "Plain *wiki* text"
    issue = client.get_issue(ref.key)
    assert issue.key == "OPS-1"
    assert issue.fields.summary == "Upgrade Thanos"
    assert issue.fields.description == "Plain *wiki* text"
    assert issue.status == "Awaiting approval"
    assert issue.labels == ("sre-change-abc",)
    assert issue.fields.issuetype is not None and issue.fields.issuetype.name == "Change"
    assert issue.fields.get("customfield_10042") == {"value": "High", "id": "100422"}
    assert issue.fields.get("customfield_99999") is None


def test_get_issue_asks_only_for_the_fields_given(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    issue = client.get_issue(key, fields=["summary", "status"])
    assert jira.requests[-1].query == {"fields": ["summary,status"]}
    assert issue.fields.summary == "Change prod"
    assert issue.fields.labels == ()


def test_create_refuses_adf_description_before_sending(jira: FakeJira, client: JiraClient) -> None:
    adf = {"type": "doc", "version": 1, "content": []}
    with pytest.raises(TicketInputError, match="plain text"):
        client.create_issue({**CHANGE, "summary": "x", "description": adf})
    assert jira.requests == []


def test_missing_issue_is_a_404_with_jiras_message(jira: FakeJira, client: JiraClient) -> None:
    with pytest.raises(JiraError) as caught:
        client.get_issue("OPS-404")
    assert caught.value.status == 404
    assert "Issue does not exist" in str(caught.value)


def test_error_body_surfaces_both_messages_and_field_errors(
    jira: FakeJira, client: JiraClient
) -> None:
    jira.inject(
        Fault.error(
            400,
            ["The issue could not be created."],
            {"customfield_10042": "Option value 'Huge' is not valid", "summary": "Too long"},
        )
    )
    with pytest.raises(JiraError) as caught:
        create(client)
    error = caught.value
    assert error.status == 400
    assert error.messages == ("The issue could not be created.",)
    assert dict(error.field_errors) == {
        "customfield_10042": "Option value 'Huge' is not valid",
        "summary": "Too long",
    }
    text = str(error)
    assert "The issue could not be created." in text
    assert "customfield_10042: Option value 'Huge' is not valid" in text
    assert "summary: Too long" in text
    assert "POST /rest/api/2/issue" in text


def test_real_validation_errors_of_the_fake(jira: FakeJira, client: JiraClient) -> None:
    with pytest.raises(JiraError) as caught:
        client.create_issue(
            {"project": {"key": "NOPE"}, "issuetype": {"name": "Change"}, "summary": "x"}
        )
    assert caught.value.field_errors == {"project": "valid project is required"}
    with pytest.raises(JiraError) as caught:
        create(client, customfield_10042={"value": "Huge"})
    assert caught.value.field_errors == {"customfield_10042": "Option value 'Huge' is not valid"}
    assert jira.issues == {}


@pytest.mark.parametrize(
    "body",
    [b"<html><body>Log in</body></html>", b'{"id": 1}', b"[]", b'{"key": "OPS-1"'],
    ids=["html", "no-key", "list", "truncated"],
)
def test_malformed_answers_are_jira_errors(jira: FakeJira, client: JiraClient, body: bytes) -> None:
    jira.inject(Fault(status=200, body=body))
    with pytest.raises(JiraError, match="malformed response") as caught:
        client.get_issue("OPS-1")
    assert type(caught.value) is JiraError


def test_malformed_search_page_and_approval(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    jira.inject(Fault(status=200, body={"issues": [{"id": "1"}], "total": "many"}))
    with pytest.raises(JiraError, match="malformed response"):
        list(client.search("project = OPS"))
    jira.inject(Fault(status=200, body={"values": [{"id": "1", "finalDecision": "maybe"}]}))
    with pytest.raises(JiraError, match=r"malformed response .*finalDecision"):
        client.approvals(key)


def test_redirects_are_not_followed(jira: FakeJira, client: JiraClient) -> None:
    jira.inject(Fault(status=302, headers={"Location": "https://sso.example.com/login?x=1"}))
    with pytest.raises(JiraError, match=r"redirect to 'https://sso.example.com/login'"):
        client.fields()


@pytest.mark.parametrize("key", ["", "OPS", "OPS-1/../x", "OPS-1?x", "-1"])
def test_bad_issue_keys_never_reach_jira(jira: FakeJira, client: JiraClient, key: str) -> None:
    with pytest.raises(TicketInputError, match="issue key"):
        client.get_issue(key)
    assert jira.requests == []


# --- labels ------------------------------------------------------------------------------


def test_add_labels_sends_update_operations(jira: FakeJira, client: JiraClient) -> None:
    key = create(client, labels=["a"])
    client.add_labels(key, ["b", "a", "b"])
    sent = jira.requests_to("PUT", f"/rest/api/2/issue/{key}")[0].json
    assert sent == {"update": {"labels": [{"add": "b"}, {"add": "a"}]}}
    assert jira.issue(key).labels == ["a", "b"]


def test_labels_with_spaces_are_refused(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    with pytest.raises(TicketInputError, match="no spaces"):
        client.add_labels(key, ["two words"])
    with pytest.raises(JiraError, match="contains spaces"):
        client.edit_issue(key, fields={"labels": ["two words"]})


def test_edit_issue_sets_fields(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    client.edit_issue(key, fields={"customfield_10047": "1. deploy", "summary": "New"})
    assert jira.issue(key).values["customfield_10047"] == "1. deploy"
    assert client.get_issue(key).fields.summary == "New"


# --- search ------------------------------------------------------------------------------


def test_search_pages_through_everything(jira: FakeJira, make_client: MakeClient) -> None:
    jira.max_page_size = 3
    for n in range(7):
        jira.add_issue(f"change {n}", labels=["sre-change"] if n % 2 == 0 else ["other"])
    client = make_client(jira)
    found = list(client.search('project = OPS AND labels = "sre-change" ORDER BY created'))
    assert [issue.key for issue in found] == ["OPS-1", "OPS-3", "OPS-5", "OPS-7"]
    assert found[0].fields.summary == "change 0"
    everything = list(client.search("project = OPS ORDER BY created DESC", page_size=10))
    assert [i.key for i in everything] == [f"OPS-{n}" for n in range(7, 0, -1)]
    if jira.flavor == "cloud":
        pages = jira.requests_to("POST", "/rest/api/2/search/jql")
        assert "nextPageToken" not in pages[0].json
        assert pages[1].json["nextPageToken"]
        assert all("startAt" not in p.json for p in pages)
    else:
        pages = jira.requests_to("POST", "/rest/api/2/search")
        assert [p.json["startAt"] for p in pages] == [0, 3, 0, 3, 6]  # the server capped at 3
    assert len(pages) == 2 + 3


def test_search_max_results_caps_the_total(jira: FakeJira, client: JiraClient) -> None:
    for n in range(6):
        jira.add_issue(f"change {n}")
    found = list(client.search("project = OPS", max_results=4, page_size=3))
    assert [i.key for i in found] == ["OPS-1", "OPS-2", "OPS-3", "OPS-4"]
    path = "/rest/api/2/search/jql" if jira.flavor == "cloud" else "/rest/api/2/search"
    assert [r.json["maxResults"] for r in jira.requests_to("POST", path)] == [3, 1]
    assert list(client.search("project = OPS", max_results=0)) == []


def test_search_uses_labels_in_and_sends_fields(jira: FakeJira, client: JiraClient) -> None:
    jira.add_issue("a", labels=["x"])
    jira.add_issue("b", labels=["y"])
    jira.add_issue("c", labels=["z"])
    found = list(client.search('project = OPS AND labels in ("x", z)', fields=["labels"]))
    assert [i.labels for i in found] == [("x",), ("z",)]
    assert found[0].fields.summary is None  # only the fields asked for
    assert jira.requests[-1].json["fields"] == ["labels"]


def test_search_of_nothing_and_jql_errors(jira: FakeJira, client: JiraClient) -> None:
    assert list(client.search('project = OPS AND labels = "none"')) == []
    with pytest.raises(JiraError, match="does not exist for the field 'project'"):
        list(client.search("project = NOPE"))
    with pytest.raises(TicketInputError):
        list(client.search("  "))


def test_cloud_search_lags_behind_creates(cloud_jira: FakeJira, make_client: MakeClient) -> None:
    client = make_client(cloud_jira)
    cloud_jira.search_lag_requests = 2
    key = create(client, labels=["sre-change-1"])
    jql = 'project = OPS AND labels = "sre-change-1"'
    assert list(client.search(jql)) == []
    assert list(client.search(jql)) == []
    assert [i.key for i in client.search(jql)] == [key]
    assert client.get_issue(key).key == key  # get by key is consistent at once


def test_search_lag_in_seconds(cloud_jira: FakeJira, make_client: MakeClient) -> None:
    client = make_client(cloud_jira)
    cloud_jira.search_lag_seconds = 0.2
    key = create(client)
    assert list(client.search("project = OPS")) == []
    time.sleep(0.25)
    assert [i.key for i in client.search("project = OPS")] == [key]


def test_cursor_that_does_not_advance_is_malformed(
    cloud_jira: FakeJira, make_client: MakeClient
) -> None:
    cloud_jira.add_issue("a")
    page = {"issues": [{"id": "1", "key": "OPS-1"}], "nextPageToken": "same", "isLast": False}
    cloud_jira.inject(Fault(status=200, body=page, times=2))
    with pytest.raises(JiraError, match="cursor does not advance"):
        list(make_client(cloud_jira).search("project = OPS"))


# --- comments ----------------------------------------------------------------------------


def test_comments_add_list_update(jira: FakeJira, make_client: MakeClient) -> None:
    jira.comment_page_size = 2
    client = make_client(jira)
    key = create(client)
    ids = [client.add_comment(key, f"comment {n}") for n in range(5)]
    assert jira.requests_to("POST", f"/rest/api/2/issue/{key}/comment")[0].json == {
        "body": "comment 0"
    }
    comments = client.list_comments(key)
    assert [c.id for c in comments] == ids
    assert [c.body for c in comments] == [f"comment {n}" for n in range(5)]
    assert len(jira.requests_to("GET", f"/rest/api/2/issue/{key}/comment")) == 3
    updated = client.update_comment(key, ids[1], "edited")
    assert updated.id == ids[1] and updated.body == "edited"
    assert [c.body for c in client.list_comments(key)][1] == "edited"
    author = comments[0].author
    assert author is not None
    if jira.flavor == "cloud":
        assert author.account_id is not None and author.name is None
    else:
        assert author.name == "sre-bot" and author.account_id is None


def test_marked_comment_is_edited_in_place(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    marker = "[sre-gate:current-preview]"
    client.add_comment(key, "someone else's comment")
    first = client.upsert_marked_comment(key, marker, "preview 1: 3 creates")
    client.add_comment(key, "a human replies")
    second = client.upsert_marked_comment(key, marker, "preview 2: 1 replace")
    assert second == first
    bodies = [c.body for c in jira.issue(key).comments]
    assert bodies == [
        "someone else's comment",
        f"preview 2: 1 replace\n\n{marker}",
        "a human replies",
    ]
    # the same body again: nothing is written (no notification)
    puts = len(jira.requests_to("PUT", r".*/comment/\d+"))
    assert client.upsert_marked_comment(key, marker, "preview 2: 1 replace") == first
    assert len(jira.requests_to("PUT", r".*/comment/\d+")) == puts == 1
    assert len(jira.requests_to("POST", r".*/comment")) == 3


def test_marker_inside_the_body_is_not_appended_again(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    client.upsert_marked_comment(key, "[m:1]", "[m:1] header\nbody")
    assert jira.issue(key).comments[0].body == "[m:1] header\nbody"
    with pytest.raises(TicketInputError):
        client.upsert_marked_comment(key, " ", "x")


def test_comment_ids_are_checked(jira: FakeJira, client: JiraClient) -> None:
    with pytest.raises(TicketInputError, match="comment id"):
        client.update_comment("OPS-1", "../../x", "body")
    key = create(client)
    with pytest.raises(JiraError) as caught:
        client.update_comment(key, "999", "body")
    assert caught.value.status == 404


# --- transitions -------------------------------------------------------------------------


def test_transitions_by_name_through_the_workflow(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    assert [t.name for t in client.transitions(key)] == ["Approve", "Decline"]
    assert client.transition(key, "APPROVE").target == "Approved"
    assert jira.requests[-1].json == {"transition": {"id": "11"}}
    client.transition(key, " start ")
    assert client.get_issue(key).status == "In progress"
    assert [(t.name, t.target) for t in client.transitions(key)] == [
        ("Complete", "Done"),
        ("Fail", "Failed"),
        ("Roll back", "Rolled back"),
    ]
    client.transition(key, "roll back")
    assert client.get_issue(key).status == "Rolled back"
    assert client.transitions(key) == []


def test_unknown_transition_lists_the_available_ones(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    with pytest.raises(TransitionNotAvailable) as caught:
        client.transition(key, "Complete")
    assert caught.value.available == ("Approve", "Decline")
    text = str(caught.value)
    assert "'Complete'" in text
    assert "'Approve' (to 'Approved')" in text and "'Decline' (to 'Declined')" in text
    assert len(jira.requests_to("POST", r".*/transitions")) == 0
    client.transition(key, "Decline")
    with pytest.raises(TransitionNotAvailable, match="none is available"):
        client.transition(key, "Approve")


def test_stale_transition_id_is_jiras_400(jira: FakeJira, client: JiraClient) -> None:
    """The status changed between GET and POST: Jira's message comes through."""
    key = create(client)
    jira.inject(
        Fault(
            method="GET",
            status=200,
            body={"transitions": [{"id": "31", "name": "Complete", "to": {"name": "Done"}}]},
        )
    )
    with pytest.raises(JiraError, match="Transition id '31' is not valid"):
        client.transition(key, "Complete")


# --- remote links ------------------------------------------------------------------------


def test_remote_link_upsert_does_not_duplicate(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    first = client.upsert_remote_link(
        key, global_id="sre-gate:run:1", url="https://ci.example.com/1", title="Gate run"
    )
    second = client.upsert_remote_link(
        key,
        global_id="sre-gate:run:1",
        url="https://ci.example.com/2",
        title="Gate run (again)",
        summary="preview 2",
        relationship="gated by",
        icon_url="https://ci.example.com/icon.png",
    )
    other = client.upsert_remote_link(
        key, global_id="sre-gate:pr:7", url="https://git.example.com/pr/7", title="PR 7"
    )
    assert second.id == first.id != other.id
    links = jira.issue(key).remote_links
    assert len(links) == 2
    assert links[0].object == {
        "url": "https://ci.example.com/2",
        "title": "Gate run (again)",
        "summary": "preview 2",
        "icon": {"url16x16": "https://ci.example.com/icon.png", "title": "Gate run (again)"},
    }
    assert links[0].relationship == "gated by"
    with pytest.raises(TicketInputError):
        client.upsert_remote_link(key, global_id="g", url="javascript:alert(1)", title="x")


# --- fields ------------------------------------------------------------------------------


def test_field_ids_resolve_by_name_once_per_client(jira: FakeJira, client: JiraClient) -> None:
    ids = client.field_ids(JiraFieldNames().as_mapping())
    assert ids == {
        "change_type": "customfield_10005",
        "change_risk": "customfield_10042",
        "impact": "customfield_10043",
        "urgency": "customfield_10044",
        "change_start_date": "customfield_10045",
        "change_completion_date": "customfield_10046",
        "implementation_plan": "customfield_10047",
        "backout_plan": "customfield_10048",
        "test_plan": "customfield_10049",
    }
    assert client.field_id("change RISK") == "customfield_10042"
    assert client.field_id("Summary") == "summary"
    assert len(jira.requests_to("GET", "/rest/api/2/field")) == 1
    risk = next(f for f in client.fields() if f.id == "customfield_10042")
    assert risk.custom and risk.field_schema is not None and risk.field_schema.type == "option"


def test_unknown_and_ambiguous_field_names(jira: FakeJira, client: JiraClient) -> None:
    jira.fields.append(FakeField("customfield_10099", "Impact", "string", custom=True))
    with pytest.raises(FieldNotFound) as caught:
        client.field_ids({"risk": "Change riks", "impact": "Impact", "x": "Zzzz"})
    text = str(caught.value)
    assert "no field named 'Change riks' (did you mean 'Change risk'" in text
    assert "'Impact' names several fields (customfield_10043, customfield_10099)" in text
    assert "no field named 'Zzzz'" in text


# --- approvals ---------------------------------------------------------------------------


def test_approvals_are_typed(jira: FakeJira, client: JiraClient) -> None:
    key = create(client)
    (approval,) = client.approvals(key)
    assert approval.final_decision is ApprovalDecision.PENDING
    assert approval.completed is None
    jira.decide_approval(key, "approved")
    jira.add_approval(key, "CAB approval")
    jira.decide_approval(key, "declined", index=1)
    approvals = client.approvals(key)
    assert [a.final_decision for a in approvals] == [
        ApprovalDecision.APPROVED,
        ApprovalDecision.DECLINED,
    ]
    assert approvals[0].completed is not None and approvals[0].completed.iso8601 is not None
    assert approvals[0].approvers[0].decision is ApprovalDecision.APPROVED
    assert approvals[0].approvers[0].approver.display_name == "Alice Approver"


def test_approvals_of_a_non_request_is_404(jira: FakeJira, client: JiraClient) -> None:
    ref = client.create_issue(
        {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "t"}
    )
    with pytest.raises(JiraError, match="not a service desk request") as caught:
        client.approvals(ref.key)
    assert caught.value.status == 404


# --- construction ------------------------------------------------------------------------


def test_data_center_under_a_context_path(make_client: MakeClient) -> None:
    with FakeJira.data_center(context_path="/jira") as fake:
        client = make_client(fake)
        assert client.base_url.endswith("/jira")
        key = create(client)
        assert fake.requests[-1].path == "/jira/rest/api/2/issue"
        assert [i.key for i in client.search("project = OPS")] == [key]


def test_client_refuses_plain_http_to_real_hosts() -> None:
    auth = DataCenterAuth(token=SecretStr(DEFAULT_PAT))
    with pytest.raises(TicketInputError, match="plain http"):
        JiraClient("http://jira.example.com", auth)
    with JiraClient("https://jira.example.com/", auth) as client:
        assert client.base_url == "https://jira.example.com"
        assert repr(client) == (
            "JiraClient('https://jira.example.com', Bearer auth (Data Center personal "
            "access token))"
        )
