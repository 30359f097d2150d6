"""Signed approvals in git: bound to one preview of one stack, signed, four eyes.

An approval is only worth something if nobody can fake it, reuse it for a different
change, or give it to themselves. Each approval here is a YAML record committed to the
infrastructure repository in a commit signed with the approver's SSH key
(``gpg.format=ssh``); it names the stack and the digest of one preview, and it counts
only for exactly that change.

Repository layout
-----------------
::

    approvers.yaml                                 who may sign, with which key, in which
                                                   groups (read from the protected base
                                                   branch, never from the change)
    approvals/
      <stack, "/" replaced by "_">/                e.g. prod-observability, acme_sre-platform_prod
        <digest>/                                  64 hex: sha256 of the preview (ChangeSet.digest)
          <approver email>.yaml                    one record per approver per change

A new decision by the same approver on the same change replaces their file in a new
signed commit (``sre approve`` does this). Reading works from any clone with the full
history (CI checks out the pull request's branch and fetches the base branch).

What counts
-----------
A record counts when the newest commit that wrote it has a good SSH signature (``%G?``
= ``G``) by the key ``approvers.yaml`` on the base branch lists for the record's
approver, the record is about this stack and digest and sits where it belongs, its
approver is not the change's author, and it has not expired. Everything else is listed
with a named reason (see :mod:`change_mgmt.approvals.verdicts`): ``unsigned``,
``wrong-signature-kind``, ``unknown-signer``, ``bad-signature``, ``signer-mismatch``,
``self-approval``, ``other-digest``, ``other-stack``, ``expired``, ``malformed``,
``record-moved``, ``duplicate`` (one principal counts once, however it is spelt).
A valid rejection vetoes the change, and keeps vetoing when someone else deletes it
(:mod:`change_mgmt.approvals.vetoes`): only its signer can withdraw it. The base branch
is only ever a branch or remote-tracking branch (:mod:`change_mgmt.approvals.baseref`).

Entry points: :class:`GitApprovals` (the gate's ``ApprovalSource``),
:func:`write_approval` (``sre approve``), :func:`approvers_modified`.
"""

from change_mgmt.approvals.baseref import (
    DEFAULT_BASES,
    BaseRef,
    BaseRefError,
    default_base_ref,
    lookup_base_ref,
    resolve_base_ref,
)
from change_mgmt.approvals.errors import (
    ApprovalError,
    ApprovalInputError,
    ApprovalsDirtyError,
    ApproversFileError,
    CommitError,
    PushError,
    RepositoryError,
    SelfApprovalError,
    SigningNotConfiguredError,
)
from change_mgmt.approvals.records import (
    APPROVALS_DIR,
    DEFAULT_VALIDITY,
    MIN_DIGEST_PREFIX,
    ApprovalRecord,
    Decision,
    change_dir,
    expand_digest,
    load_record,
    record_path,
    render_record,
    stack_dir,
    validate_digest,
    validate_stack,
)
from change_mgmt.approvals.signers import (
    APPROVERS_FILE,
    Approver,
    ApproversFile,
    PublicKey,
    allowed_signers_file,
    approvers_at,
    load_approvers,
    parse_public_key,
)
from change_mgmt.approvals.verify import (
    BAD_SIGNATURE,
    DUPLICATE,
    EXPIRED,
    MALFORMED,
    OTHER_DIGEST,
    OTHER_STACK,
    REASON_CODES,
    RECORD_MOVED,
    SELF_APPROVAL,
    SIGNER_MISMATCH,
    SOURCE,
    UNKNOWN_SIGNER,
    UNSIGNED,
    WRONG_SIGNATURE_KIND,
    ApprovalReport,
    GitApprovals,
    RecordCheck,
    Signature,
    approvers_modified,
    change_author,
)
from change_mgmt.approvals.write import (
    SigningSetup,
    Withdrawal,
    WrittenApproval,
    recorded_digests,
    signing_setup,
    withdraw_approval,
    write_approval,
)

__all__ = [
    "APPROVALS_DIR",
    "APPROVERS_FILE",
    "BAD_SIGNATURE",
    "DEFAULT_BASES",
    "DEFAULT_VALIDITY",
    "DUPLICATE",
    "EXPIRED",
    "MALFORMED",
    "MIN_DIGEST_PREFIX",
    "OTHER_DIGEST",
    "OTHER_STACK",
    "REASON_CODES",
    "RECORD_MOVED",
    "SELF_APPROVAL",
    "SIGNER_MISMATCH",
    "SOURCE",
    "UNKNOWN_SIGNER",
    "UNSIGNED",
    "WRONG_SIGNATURE_KIND",
    "ApprovalError",
    "ApprovalInputError",
    "ApprovalRecord",
    "ApprovalReport",
    "ApprovalsDirtyError",
    "Approver",
    "ApproversFile",
    "ApproversFileError",
    "BaseRef",
    "BaseRefError",
    "CommitError",
    "Decision",
    "GitApprovals",
    "PublicKey",
    "PushError",
    "RecordCheck",
    "RepositoryError",
    "SelfApprovalError",
    "Signature",
    "SigningNotConfiguredError",
    "SigningSetup",
    "Withdrawal",
    "WrittenApproval",
    "allowed_signers_file",
    "approvers_at",
    "approvers_modified",
    "change_author",
    "change_dir",
    "default_base_ref",
    "expand_digest",
    "load_approvers",
    "load_record",
    "lookup_base_ref",
    "parse_public_key",
    "record_path",
    "recorded_digests",
    "render_record",
    "resolve_base_ref",
    "signing_setup",
    "stack_dir",
    "validate_digest",
    "validate_stack",
    "withdraw_approval",
    "write_approval",
]
