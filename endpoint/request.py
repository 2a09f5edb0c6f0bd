"""An HTTP request to ``scores serve`` as the service runs it (endpoint/service.py): who asks, the
statement's text or an inline INSERT and its data, the URL's ClickHouse settings, bindings and
session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from endpoint.bodies import Body
from endpoint.errors import BAD_ARGUMENTS, SYNTAX_ERROR, QueryError
from endpoint.parsing import InlineInsert, Parser
from endpoint.users import User

# URL parameters that are part of the protocol, not ClickHouse settings
PROTOCOL_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "user",
        "password",
        "compress",
        "decompress",
        "enable_http_compression",
        "wait_end_of_query",
        "buffer_size",
        "quota_key",
        "client_protocol_version",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "http_response_buffer_size",
        "http_write_exception_in_output_format",
        "role",
        "extremes",
        "http_wait_end_of_query",
        "http_native_compression_disable_checksumming_on_decompress",
    }
)
MAX_ID = 128
MAX_SESSION_TIMEOUT = 3600.0


def safe_id(value: str, what: str) -> str:
    """Query and session ids: printable ASCII without spaces, at most 128 characters (they go into
    response headers and query comments)."""
    if (
        not value
        or len(value) > MAX_ID
        or not all(c.isascii() and (c.isalnum() or c in "-_.:") for c in value)
    ):
        raise QueryError(BAD_ARGUMENTS, f"invalid {what}: use up to {MAX_ID} letters, digits and -_.:")
    return value


@dataclass
class Request:
    """What the HTTP layer hands over: who asks, the statement's text or an inline INSERT."""

    user: User
    query_id: str
    params: dict[str, str]
    settings: dict[str, str]
    bindings: dict[str, str]
    sql: str | None = None
    insert: InlineInsert | None = None
    data: list[Any] = field(default_factory=list)  # pieces of INSERT data: bytes or a Body at an offset
    session_id: str | None = None
    session_timeout: float = 60.0
    read_only: bool = False  # GET requests read, whoever sends them
    client: Any = None  # the client's socket, to notice when it goes away


def request_of(
    params: dict[str, str],
    user: User,
    query_id: str,
    body: Body,
    read_only: bool,
    client: Any,
    parser: Parser,
    max_query_bytes: int,
    session_timeout: float,
) -> Request:
    """The Request of an HTTP request's URL parameters and body: the ClickHouse settings, the
    bindings, the session and the statement (or the inline INSERT and its data)."""
    settings = {k: v for k, v in params.items() if k not in PROTOCOL_PARAMS and not k.startswith("param_")}
    bindings = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
    session_id = safe_id(params["session_id"], "session_id") if params.get("session_id") else None
    try:
        timeout = float(params.get("session_timeout") or session_timeout)
    except ValueError:
        raise QueryError(BAD_ARGUMENTS, "session_timeout must be a number of seconds") from None
    if not 0 < timeout <= MAX_SESSION_TIMEOUT:
        raise QueryError(BAD_ARGUMENTS, f"session_timeout must be between 0 and {MAX_SESSION_TIMEOUT:.0f} s")
    request = Request(
        user,
        query_id,
        params,
        settings,
        bindings,
        session_id=session_id,
        session_timeout=timeout,
        read_only=read_only,
        client=client,
    )
    _split(request, params.get("query", ""), body, parser, max_query_bytes)
    return request


def _split(request: Request, query: str, body: Body, parser: Parser, limit: int) -> None:
    """The statement of a request, and the INSERT data that follows it if it has some: in the
    body after a query in the URL, or after the statement in the body. A statement is parsed
    first; only an INSERT is looked at with the lexer to find where its data starts."""
    if query:
        if _takes_data(parser, query):
            inline = parser.inline_insert((query + "\n").encode())
            if inline is not None:
                request.insert = inline
                request.data = [(query + "\n").encode()[inline.data_offset :], (body, 0)]
                return
        text = query + ("\n" + _text(body.read()) if body.size else "")
    else:
        raw = body.read(0, limit + 1) if body.size <= limit else b""
        try:
            text = raw.decode() if raw else ""
        except UnicodeDecodeError:
            text = ""
        # a body that is too long for a query, or not text, can only be an INSERT with its data
        if not text or _takes_data(parser, text):
            inline = parser.inline_insert(body.read(0, 1 << 20)) if body.size else None
            if inline is not None:
                request.insert = inline
                request.data = [(body, inline.data_offset)]
                return
            if body.size > limit:
                raise QueryError(
                    BAD_ARGUMENTS,
                    f"a query of {body.size} bytes is longer than max_query_bytes ({limit}); "
                    "send INSERT data after the INSERT",
                )
            text = _text(raw)
    if not text.strip():
        raise QueryError(SYNTAX_ERROR, "Empty query")
    request.sql = text


def _takes_data(parser: Parser, sql: str) -> bool:
    """Whether ``sql`` is an INSERT whose data comes after it (VALUES or FORMAT), not from a
    SELECT. Text that does not parse is not (the caller reports its error as a statement)."""
    try:
        statement = parser.parse(sql)
    except QueryError:
        return False
    if statement.kind != "InsertQuery":
        return False
    return statement.ast is None or ("select" not in statement.ast and "infile" not in statement.ast)


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as ex:
        raise QueryError(BAD_ARGUMENTS, f"the query is not valid UTF-8 (byte {ex.start})") from None
