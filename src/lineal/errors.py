"""The one exception hierarchy of lineal.

    LinealError                    base; never raised directly
    ├── NotFound                   404 / exit 3   a run, artifact, alias, model... does not exist
    │   └── Purged                 410            the version exists but its bytes were purged
    ├── AlreadyExists              409 / exit 4   creating what is already there
    ├── InvalidArgument            400 / exit 2   bad name, bad reference, bad path, bad value
    ├── Conflict                   409 / exit 5   a concurrent writer won (alias moved, version taken)
    ├── PermissionDenied           403 / exit 6   policy forbids it (protected alias, approval missing,
    │                                             a role too low for the operation)
    ├── Unauthenticated            401 / exit 9   no credential, or one that is unknown, expired or invalid
    ├── IntegrityError             500 / exit 7   stored data does not match its digest or ledger
    ├── StoreError                 503 / exit 8   the backend (database, object store) failed
    │   └── SchemaOutdated                        the database needs `lineal store upgrade`
    └── ModelFormatError           400 / exit 2   a model cannot be saved or loaded in that format
        ├── UnsupportedModelError                 no flavor handles this object
        └── UntrustedModelError                   pickle-based format loaded without trust=True

Each class carries its HTTP status and its CLI exit code, so the server and the CLI render any
lineal error without a lookup table. Backend exceptions (SQLAlchemy, fsspec, OS errors) are
translated at the store boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Conflict",
    "IntegrityError",
    "InvalidArgument",
    "LinealError",
    "ModelFormatError",
    "NotFound",
    "PermissionDenied",
    "Purged",
    "SchemaOutdated",
    "StoreError",
    "Unauthenticated",
    "UnsupportedModelError",
    "UntrustedModelError",
]


class LinealError(Exception):
    """Root of every error lineal raises on purpose."""

    http_status: int = 500
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, str | None]:
        """The JSON body the server sends for this error."""
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class NotFound(LinealError):
    http_status = 404
    exit_code = 3


class Purged(NotFound):
    """The version is recorded (metadata, lineage) but its content was deleted on request; a
    NotFound so callers that handle missing content handle this too, with HTTP's 410 Gone."""

    http_status = 410


class AlreadyExists(LinealError):
    http_status = 409
    exit_code = 4


class InvalidArgument(LinealError):
    http_status = 400
    exit_code = 2


class Conflict(LinealError):
    http_status = 409
    exit_code = 5


class PermissionDenied(LinealError):
    http_status = 403
    exit_code = 6


class Unauthenticated(LinealError):
    """The server could not tell who is asking: no credential, or an API token or OIDC token
    that is unknown, revoked, expired or fails validation. Distinct from PermissionDenied (403),
    which is about who is asking and what they may do."""

    http_status = 401
    exit_code = 9


class IntegrityError(LinealError):
    http_status = 500
    exit_code = 7


class StoreError(LinealError):
    http_status = 503
    exit_code = 8


class SchemaOutdated(StoreError):
    pass


class ModelFormatError(LinealError):
    http_status = 400
    exit_code = 2


class UnsupportedModelError(ModelFormatError):
    pass


class UntrustedModelError(ModelFormatError):
    http_status = 403
    exit_code = 6


ERROR_CLASSES: dict[str, type[LinealError]] = {
    cls.__name__: cls
    for cls in (
        LinealError,
        NotFound,
        Purged,
        AlreadyExists,
        InvalidArgument,
        Conflict,
        PermissionDenied,
        Unauthenticated,
        IntegrityError,
        StoreError,
        SchemaOutdated,
        ModelFormatError,
        UnsupportedModelError,
        UntrustedModelError,
    )
}
"""By name, so the HTTP client can re-raise what the server raised."""
