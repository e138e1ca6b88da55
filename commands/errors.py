"""Exceptions the handlers raise, named for what went wrong."""


class CommandError(Exception):
    """Base class for refused commands."""


class AppNotFound(CommandError):
    def __init__(self, app_id: str) -> None:
        super().__init__(f"no app with app_id {app_id!r}")
        self.app_id = app_id


class InvalidUserHash(CommandError):
    def __init__(self) -> None:
        super().__init__("secure mode is on and user_hash is missing or wrong")


class UserNotFound(CommandError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no user with {what}")


class CompanyNotFound(CommandError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no company with {what}")


class AdminExists(CommandError):
    def __init__(self, email: str) -> None:
        super().__init__(f"an admin with email {email!r} already exists in this app")


class TagNotFound(CommandError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no {what}")


class SegmentNotFound(CommandError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no {what}")


class MessageNotFound(CommandError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no {what}")


class ConversationNotFound(CommandError):
    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}")
