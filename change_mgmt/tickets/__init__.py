"""Change tickets in Jira (Cloud or Data Center): settings, a typed client, its errors.

Without ``SRE_JIRA_URL`` there is no Jira and change records stay in the local ledger
(:mod:`change_mgmt.ledger`); see :meth:`JiraConfig.from_env`.
"""

from change_mgmt.tickets.auth import CloudAuth, DataCenterAuth, JiraAuth, JiraFlavor
from change_mgmt.tickets.config import JiraConfig, JiraFieldNames
from change_mgmt.tickets.errors import (
    FieldNotFound,
    JiraAuthError,
    JiraCreateUncertain,
    JiraError,
    JiraUnavailable,
    TicketConfigError,
    TicketError,
    TicketInputError,
    TransitionNotAvailable,
)
from change_mgmt.tickets.jira import (
    DEFAULT_SEARCH_FIELDS,
    NO_RETRY,
    JiraClient,
    RetryPolicy,
    retry_after_seconds,
)
from change_mgmt.tickets.models import (
    Approval,
    ApprovalDecision,
    Approver,
    Comment,
    FieldInfo,
    Issue,
    IssueFields,
    IssueRef,
    RemoteLinkRef,
    Transition,
    User,
)

__all__ = [
    "DEFAULT_SEARCH_FIELDS",
    "NO_RETRY",
    "Approval",
    "ApprovalDecision",
    "Approver",
    "CloudAuth",
    "Comment",
    "DataCenterAuth",
    "FieldInfo",
    "FieldNotFound",
    "Issue",
    "IssueFields",
    "IssueRef",
    "JiraAuth",
    "JiraAuthError",
    "JiraClient",
    "JiraConfig",
    "JiraCreateUncertain",
    "JiraError",
    "JiraFieldNames",
    "JiraFlavor",
    "JiraUnavailable",
    "RemoteLinkRef",
    "RetryPolicy",
    "TicketConfigError",
    "TicketError",
    "TicketInputError",
    "Transition",
    "TransitionNotAvailable",
    "User",
    "retry_after_seconds",
]
