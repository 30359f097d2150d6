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
    """An input breaks a rule of the policy pack (``rule_id``); the message is the rule's."""

    def __init__(self, field: str, value: object, rule_id: str, explanation: str) -> None:
        self.rule_id = rule_id
        super().__init__(field, value, f"breaks policy rule {rule_id}: {explanation}")

    def __reduce__(self) -> tuple[type[TestEnvironmentError], tuple[str, object, str]]:
        return (TestEnvironmentError, (self.field, self.value, self.allowed))
