"""Errors as a ClickHouse server reports them: ``Code: N. DB::Exception: text. (NAME)``.

Every refusal of the endpoint is a :class:`QueryError` with ClickHouse's error code, so clients
(clickhouse-connect, dbt-clickhouse, Superset) show it as they would a server's. Engine errors pass
through :func:`from_engine`, which keeps ClickHouse's text but not the host's paths.
"""

from __future__ import annotations

import re
from http import HTTPStatus

# ClickHouse error codes used by the endpoint (src/Common/ErrorCodes.cpp)
SYNTAX_ERROR = 62
UNKNOWN_TABLE = 60
UNKNOWN_DATABASE = 81
READONLY = 164
MEMORY_LIMIT_EXCEEDED = 241
TIMEOUT_EXCEEDED = 159
QUERY_WAS_CANCELLED = 394
ACCESS_DENIED = 497
AUTHENTICATION_FAILED = 516
SESSION_IS_LOCKED = 373
SESSION_NOT_FOUND = 372
UNSUPPORTED_METHOD = 1
BAD_ARGUMENTS = 36
UNKNOWN_QUERY_PARAMETER = 456
TOO_MANY_SIMULTANEOUS_QUERIES = 202
NOT_IMPLEMENTED = 48
CANNOT_DECOMPRESS = 271
INTERNAL = 1001

ERROR_NAMES = {
    SYNTAX_ERROR: "SYNTAX_ERROR",
    UNKNOWN_TABLE: "UNKNOWN_TABLE",
    UNKNOWN_DATABASE: "UNKNOWN_DATABASE",
    READONLY: "READONLY",
    MEMORY_LIMIT_EXCEEDED: "MEMORY_LIMIT_EXCEEDED",
    TIMEOUT_EXCEEDED: "TIMEOUT_EXCEEDED",
    QUERY_WAS_CANCELLED: "QUERY_WAS_CANCELLED",
    ACCESS_DENIED: "ACCESS_DENIED",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    SESSION_IS_LOCKED: "SESSION_IS_LOCKED",
    SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
    UNSUPPORTED_METHOD: "UNSUPPORTED_METHOD",
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    UNKNOWN_QUERY_PARAMETER: "UNKNOWN_QUERY_PARAMETER",
    TOO_MANY_SIMULTANEOUS_QUERIES: "TOO_MANY_SIMULTANEOUS_QUERIES",
    NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
    CANNOT_DECOMPRESS: "CANNOT_DECOMPRESS",
    INTERNAL: "STD_EXCEPTION",
}

# errors in what the client sent (ClickHouse's HTTP handler answers them with 400 too)
CLIENT_ERRORS = frozenset(
    {
        6,
        26,
        27,
        32,
        33,
        271,
        38,
        41,
        42,
        43,
        44,
        46,
        47,
        49,
        50,
        53,
        69,
        70,
        72,
        73,
        107,
        115,
        117,
        130,
        131,
        184,
        190,
        215,
        344,
        386,
        394,
        407,
        441,
        457,
        472,
        497,
        583,
        1002,
    }
)
STATUS_FOR_CODE = {
    AUTHENTICATION_FAILED: HTTPStatus.UNAUTHORIZED,
    READONLY: HTTPStatus.FORBIDDEN,
    ACCESS_DENIED: HTTPStatus.FORBIDDEN,
    SESSION_IS_LOCKED: HTTPStatus.FORBIDDEN,
    SYNTAX_ERROR: HTTPStatus.BAD_REQUEST,
    BAD_ARGUMENTS: HTTPStatus.BAD_REQUEST,
    UNKNOWN_QUERY_PARAMETER: HTTPStatus.BAD_REQUEST,
    UNKNOWN_TABLE: HTTPStatus.NOT_FOUND,
    UNKNOWN_DATABASE: HTTPStatus.NOT_FOUND,
    SESSION_NOT_FOUND: HTTPStatus.NOT_FOUND,
    MEMORY_LIMIT_EXCEEDED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    TOO_MANY_SIMULTANEOUS_QUERIES: HTTPStatus.SERVICE_UNAVAILABLE,
    NOT_IMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    452: HTTPStatus.FORBIDDEN,  # SETTING_CONSTRAINT_VIOLATION
    TIMEOUT_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
}

_CODE = re.compile(r"Code:\s*(\d+)")
# the engine's own text ends with "(NAME)" and sometimes "(version x.y)"; keep from "Code:" on
_PREFIX = "Code:"


class QueryError(Exception):
    """A refusal or an engine error, reported to the client in ClickHouse's format."""

    def __init__(self, code: int, text: str, status: HTTPStatus | None = None) -> None:
        name = ERROR_NAMES.get(code, "UNKNOWN")
        message = text if text.startswith(_PREFIX) else f"Code: {code}. DB::Exception: {text}. ({name})"
        super().__init__(message)
        self.code = code
        default = HTTPStatus.BAD_REQUEST if code in CLIENT_ERRORS else HTTPStatus.INTERNAL_SERVER_ERROR
        self.status = status or STATUS_FOR_CODE.get(code, default)


def from_engine(ex: BaseException, hidden_paths: tuple[str, ...] = ()) -> QueryError:
    """An engine exception as the client sees it: ClickHouse's text, without host paths.

    Engine messages can name files of the data directory (a corrupted part, a metadata file);
    clients learn what failed, not where the warehouse lives.
    """
    message = str(ex).strip()
    if _PREFIX in message:
        message = message[message.find(_PREFIX) :]
    for path in hidden_paths:
        if path:
            message = message.replace(path, "<data>")
    match = _CODE.search(message)
    if not match:
        return QueryError(INTERNAL, "internal error of the endpoint (see its log)")
    # nested "Code: N" prefixes (errors raised while applying a SETTINGS clause) collapse to one
    code = int(match.group(1))
    inner = message.rfind(_PREFIX)
    if inner > 0:
        message = message[inner:]
        message = re.sub(r"\s*\(version [^)]*\)\.\s*\([A-Z_]+\)$", "", message)
    return QueryError(code, message)
