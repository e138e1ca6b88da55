"""Exceptions named for what went wrong in the domain."""


class DomainError(Exception):
    """Base class: a rule of the product was broken by the input."""


class InvalidValue(DomainError):
    """A value cannot be accepted; `field` names where it came from."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class MissingUserIdentifier(DomainError):
    """Neither user_id nor email was given (nor, where one may be, Parley's id)."""

    def __init__(self, reason: str = "a user_id or an email is required") -> None:
        super().__init__(reason)
