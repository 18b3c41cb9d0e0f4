"""Domain errors, mapped to status codes in one place (``server/api/errors.py``).

PatchfleetError
├── NotFoundError            object missing or outside the caller's scope (404)
├── PermissionDeniedError    authenticated but not allowed (403)
├── AuthenticationError      no or bad credentials (401)
├── ConflictError            state does not allow the request (409)
│   └── StaleInventoryError  delta's base hash is not the server's (409)
└── InvalidInputError        well-formed but unacceptable input (422)
    └── BulkLimitError       more than 100 items in one bulk action (DEC-12)
"""

from __future__ import annotations


class PatchfleetError(Exception):
    """Base of all domain errors."""


class NotFoundError(PatchfleetError):
    """The object does not exist or lies outside the caller's scope."""


class PermissionDeniedError(PatchfleetError):
    """The caller is known but may not do this."""


class AuthenticationError(PatchfleetError):
    """Missing, unknown, expired or revoked credentials."""


class ConflictError(PatchfleetError):
    """The current state does not allow the request."""


class StaleInventoryError(ConflictError):
    """An inventory delta was based on a hash the server does not hold."""


class InvalidInputError(PatchfleetError):
    """Input passed schema validation but cannot be accepted.

    ``loc`` names the offending part of the request, as in validation errors
    (e.g. ``("query", "colour")`` or ``("body", "device_ids")``).
    """

    def __init__(self, message: str, loc: tuple[str, ...] = ("body",)) -> None:
        """Keep the message and where the problem is."""
        super().__init__(message)
        self.loc = loc


class BulkLimitError(InvalidInputError):
    """A bulk action named more items than allowed (FEATURES DEC-12)."""
