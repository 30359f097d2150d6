"""The expected failures of signed git approvals; all derive from :class:`ApprovalError`."""

from __future__ import annotations

from change_mgmt.documents import DocumentError
from change_mgmt.errors import SreError


class ApprovalError(SreError):
    """Root of every expected failure of ``change_mgmt.approvals``."""


class ApprovalInputError(ApprovalError):
    """A value given by the caller (stack, digest, approver, expiry…) is not valid."""


class SelfApprovalError(ApprovalInputError):
    """The change's author tried to approve their own change (four eyes)."""


class ApproversFileError(ApprovalError, DocumentError):
    """``approvers.yaml`` is invalid; carries every problem with its file and line."""


class RepositoryError(ApprovalError):
    """The infrastructure repository cannot be used: not a checkout, unknown ref, git failed."""


class SigningNotConfiguredError(ApprovalError):
    """``git commit -S`` would not make an SSH signature with the user's own key."""


class ApprovalsDirtyError(ApprovalError):
    """``approvals/`` has uncommitted changes, so a new record could not be committed alone."""


class CommitError(ApprovalError):
    """``git commit -S`` failed (signing, a hook, a merge in progress); nothing was committed."""


class PushError(ApprovalError):
    """The signed record was committed but could not be pushed."""
