"""The one exception a ``TestEnvironment`` raises for bad input."""

from __future__ import annotations


class TestEnvironmentError(ValueError):
    """An argument of ``TestEnvironment`` is invalid; the message says which and why.

    Raised at construction, before any resource is declared, so a bad request never
    leaves half an environment behind. Messages name the input, the bad value (never a
    secret value) and what is allowed.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {field} {value!r}: {allowed}")

    def __reduce__(self) -> tuple[type[TestEnvironmentError], tuple[str, object, str]]:
        """Pickle by fields (the default would call ``__init__`` with the message only)."""
        return (type(self), (self.field, self.value, self.allowed))


class PolicyRefusal(TestEnvironmentError):
    """An input breaks a rule of the policy pack (``rule_id``); ``finding`` is the rule's
    message, and the error adds the rule's remediation."""

    def __init__(self, field: str, value: object, rule_id: str, finding: str, fix: str) -> None:
        self.rule_id = rule_id
        self.finding = finding
        super().__init__(field, value, f"breaks policy rule {rule_id}: {finding}. {fix}")

    def __reduce__(self) -> tuple[type[TestEnvironmentError], tuple[str, object, str]]:
        return (TestEnvironmentError, (self.field, self.value, self.allowed))
