"""Errors a user can act on.

Each carries a stable `code` and, where one field is to blame, the field and the rule it broke.
graphql-core copies an exception's `extensions` onto the GraphQL error it reports, so these reach
API clients as typed errors without any translation in the resolvers.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "BAD_REQUEST"
    http_status = 200

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    @property
    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            ext["field"] = self.field
        ext.update(self.details)
        return ext


class ValidationFailed(DomainError):
    """Input broke a rule; `reason` names the rule so scripts can branch on it."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, field=field, reason=reason, **details)
        self.reason = reason


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, record: str, record_id: str, *, field: str | None = "id") -> None:
        super().__init__(f"{record} {record_id!r} does not exist", field=field, record=record)


class VersionConflict(DomainError):
    code = "CONFLICT"
    http_status = 409

    def __init__(self, record: str, record_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"{record} {record_id!r} was changed by someone else: you sent version {expected}, "
            f"it is now at version {actual}; reload it and apply your change again",
            field="version",
            expected=expected,
            actual=actual,
        )


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403


class StorageUnavailable(DomainError):
    code = "STORAGE_UNAVAILABLE"
    http_status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(f"storage unavailable: {reason}", reason=reason)


class LimitExceeded(DomainError):
    code = "LIMIT_EXCEEDED"

    def __init__(self, field: str, limit: int, message: str) -> None:
        super().__init__(message, field=field, limit=limit)


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes", limit=limit)
