"""The one exception tree of ``quixotic``.

Every error the toolkit raises on purpose is a :class:`QuixoticError`; the CLI catches only that root,
prints its message (which always says what is wrong and how to fix it) and exits non-zero. The local
server maps :class:`ApiError` to Appwrite's error JSON in one place (``quixotic.server.app``).

::

    QuixoticError                    root; ``message`` says what is wrong and what to do
    ├── UsageError                   bad command-line input or arguments to a library call
    ├── ProblemsError                several problems found in one pass: ``headline`` and ``problems``
    │   ├── ConfigError              the project's configuration files are invalid (file, place, what to change)
    │   └── MigrationError           migrations that cannot run as they are: bad files (duplicate number, gap,
    │                                import error), history that disagrees with the files (edited after apply,
    │                                missing file, out of order), an unknown target, ``down`` past an
    │                                irreversible migration, a migration that raised
    ├── LocalDataError               the local server's data folder is missing, locked or corrupt
    ├── ServerStartError             the local server would not start or answer (the message has its log's tail)
    ├── LockHeld                     another run holds a lock of the target (deploy, migrations, restore): who,
    │                                where, until when, and how to break it
    ├── PlanError                    a deploy plan that cannot be made or applied as it is: destructive changes
    │                                without ``--allow-destructive``, a plan file that is malformed, tampered
    │                                with or stale (the live project changed), a desired state that
    │                                contradicts itself, a failed health check after a deploy
    ├── TranscriptionError           the transcribe function refused or failed a file: ``code`` is the
    │                                function's stable error code (file_too_large, insufficient_credits, ...)
    ├── BackupError                  a backup archive that cannot be trusted or used (truncated, edited, of a
    │                                newer format, wrong passphrase: the message names the part), or a backup,
    │                                restore or clone refused as asked (non-empty target without --replace or
    │                                --merge, missing scopes, protected environment without confirmation)
    └── ApiError                     an Appwrite API error: ``type`` (e.g. ``row_not_found``), ``code`` (HTTP).
        │                            Raised by the local server's handlers (``quixotic.server.app`` renders it)
        │                            and by the SDK boundary (``quixotic.sdk.boundary``), which translates every
        │                            ``AppwriteException`` once into the subclass its status names:
        ├── InvalidRequest           400: the request itself is wrong (bad value, bad query)
        ├── AccessDenied             401 / 403: the key lacks a scope, or the project or key is wrong
        ├── NotFound                 404: the resource does not exist (callers test for this, not for codes)
        ├── Conflict                 409: it exists already, or a unique value or lock is taken
        └── Unreachable              no answer at all: the endpoint is down or wrong (``code`` 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

# HTTP status of each Appwrite error type this project raises (from Appwrite's error catalogue).
ERROR_CODES: Final[dict[str, int]] = {
    "general_unknown": 500,
    "general_server_error": 500,
    "general_access_forbidden": 401,
    "general_unknown_origin": 403,
    "general_unauthorized_scope": 401,
    "general_argument_invalid": 400,
    "general_query_invalid": 400,
    "general_cursor_not_found": 400,
    "general_route_not_found": 404,
    "general_bad_request": 400,
    "general_not_implemented": 405,
    "general_resource_locked": 409,
    "project_not_found": 404,
    "project_already_exists": 409,
    "project_key_expired": 401,
    "user_not_found": 404,
    "user_already_exists": 409,
    "user_email_already_exists": 409,
    "user_phone_already_exists": 409,
    "user_password_mismatch": 400,
    "user_blocked": 403,
    "user_invalid_credentials": 401,
    "user_jwt_and_cookie_set": 403,
    "user_jwt_creation_denied": 403,
    "user_jwt_invalid": 401,
    "user_session_already_exists": 401,
    "user_session_not_found": 404,
    "user_target_already_exists": 409,
    "user_unauthorized": 401,
    "database_not_found": 404,
    "database_already_exists": 409,
    "database_query_order_null": 400,
    "collection_not_found": 404,
    "collection_already_exists": 409,
    "collection_limit_exceeded": 400,
    "table_not_found": 404,
    "table_already_exists": 409,
    "table_limit_exceeded": 400,
    "document_not_found": 404,
    "document_invalid_structure": 400,
    "document_missing_data": 400,
    "document_missing_payload": 400,
    "document_already_exists": 409,
    "document_unique_constraint_violation": 409,
    "row_not_found": 404,
    "row_invalid_structure": 400,
    "row_missing_data": 400,
    "row_missing_payload": 400,
    "row_already_exists": 409,
    "row_unique_constraint_violation": 409,
    "attribute_not_found": 404,
    "attribute_unknown": 400,
    "attribute_not_available": 400,
    "attribute_default_unsupported": 400,
    "attribute_already_exists": 409,
    "attribute_limit_exceeded": 400,
    "attribute_value_invalid": 400,
    "attribute_type_invalid": 400,
    "attribute_invalid_resize": 400,
    "column_not_found": 404,
    "column_unknown": 400,
    "column_not_available": 400,
    "column_default_unsupported": 400,
    "column_already_exists": 409,
    "column_limit_exceeded": 400,
    "column_value_invalid": 400,
    "column_type_invalid": 400,
    "column_invalid_resize": 400,
    "index_not_found": 404,
    "index_already_exists": 409,
    "index_invalid": 400,
    "index_dependency": 409,
    "column_index_not_found": 404,
    "column_index_already_exists": 409,
    "column_index_invalid": 400,
    "column_index_dependency": 409,
    "storage_file_already_exists": 409,
    "storage_file_not_found": 404,
    "storage_file_empty": 400,
    "storage_file_type_unsupported": 400,
    "storage_invalid_file_size": 400,
    "storage_invalid_file": 403,
    "storage_bucket_already_exists": 409,
    "storage_bucket_not_found": 404,
    "storage_invalid_content_range": 400,
    "storage_invalid_range": 416,
    "storage_invalid_appwrite_id": 400,
    "storage_device_not_found": 400,
    "function_not_found": 404,
    "function_already_exists": 409,
    "function_runtime_unsupported": 404,
    "function_entrypoint_missing": 404,
    "function_synchronous_timeout": 408,
    "deployment_not_found": 404,
    "deployment_invalid_file_size": 400,
    "build_not_ready": 400,
    "build_in_progress": 400,
    "build_already_completed": 400,
    "execution_not_found": 404,
    "execution_in_progress": 400,
    "variable_not_found": 404,
    "variable_already_exists": 409,
    "variable_cannot_unset_secret": 400,
    "transaction_not_found": 404,
    "transaction_expired": 410,
    "transaction_conflict": 409,
    "transaction_limit_exceeded": 400,
    "transaction_not_ready": 400,
}


class QuixoticError(Exception):
    """Root of every error raised on purpose by quixotic."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(QuixoticError):
    """Bad arguments: an unknown option value, a malformed ID, a missing file."""


class ProblemsError(QuixoticError):
    """Several problems found in one pass, so one run reports them all: ``problems`` holds them one per
    item and ``message`` is the headline followed by the list."""

    def __init__(self, headline: str, problems: Sequence[str] = ()) -> None:
        super().__init__("\n".join([headline, *(f"  - {p}" for p in problems)]))
        self.headline = headline
        self.problems: tuple[str, ...] = tuple(problems)


class ConfigError(ProblemsError):
    """The configuration (``appwrite.json``, ``templates/``, ``environments/``) is invalid."""


class LocalDataError(QuixoticError):
    """The local server's data folder cannot be used as it is."""


class ServerStartError(QuixoticError):
    """The local server exited at start or did not answer in time; the message carries its log's tail."""


class LockHeld(QuixoticError):
    """Another process holds a lock of the target (deploy, migrations, restore): who, where and until when."""


class PlanError(QuixoticError):
    """A deploy plan is refused or invalid; the message lists what and says how to go on (re-plan, or
    pass ``--allow-destructive`` after reviewing)."""


class TranscriptionError(QuixoticError):
    """The ``transcribe`` function answered an error: ``code`` is its stable code, ``message`` its explanation."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.detail = message


class MigrationError(ProblemsError):
    """Migrations refused or failed; raised before anything changes whenever the problem is visible up front
    (files and history are checked in one pass)."""


class BackupError(QuixoticError):
    """A backup archive is damaged, edited or unreadable, or a backup/restore/clone was refused; the message
    names the part or the reason and says what to do."""


class ApiError(QuixoticError):
    """An Appwrite API error with its ``type`` and HTTP ``code``; :meth:`of` picks the subclass for the code."""

    def __init__(self, type: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.type = type
        self.code = code if code is not None else ERROR_CODES.get(type, 500)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type!r}, {self.message!r}, {self.code})"

    @staticmethod
    def of(type: str, message: str, code: int) -> ApiError:
        """The error as the most specific class its status names (``NotFound`` for 404, ...)."""
        return _BY_CODE.get(code, ApiError)(type, message, code)


class InvalidRequest(ApiError):
    """400: a value, query or body the API refused."""


class AccessDenied(ApiError):
    """401 / 403: the key lacks a scope, or the project, key or session is not valid here."""


class NotFound(ApiError):
    """404: the resource (or route, or project) does not exist."""


class Conflict(ApiError):
    """409: the resource exists already, or a unique value is taken."""


class Unreachable(ApiError):
    """No HTTP answer at all: the endpoint is down, wrong or refused the connection."""


_BY_CODE: Final[dict[int, type[ApiError]]] = {
    400: InvalidRequest,
    401: AccessDenied,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    0: Unreachable,
}
