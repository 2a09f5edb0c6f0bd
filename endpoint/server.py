"""A ClickHouse HTTP endpoint over the embedded engine: one process owns the chDB directory and
every client (clickhouse-connect, dbt-clickhouse with driver http, Superset) talks HTTP to it.

This is a development and small-team endpoint. In production, point the same profiles at a real
ClickHouse server: only host and port change.

Implemented part of the ClickHouse HTTP interface:
* ``GET /ping`` and ``GET /`` -> ``Ok.``
* ``GET|POST /`` with the SQL in ``query=`` and/or the body; for ``INSERT ... FORMAT <fmt>`` the
  body is the data. Request bodies may be compressed (Content-Encoding lz4, zstd, gzip, deflate,
  br); responses are compressed when the client asks (``enable_http_compression=1`` and
  Accept-Encoding).
* URL parameters: ``database``, ``default_format``, ``query_id``, ``session_id``,
  ``session_timeout``, ``param_<name>`` (server-side bindings ``{name:Type}``), and any ClickHouse
  setting (applied to the query).
* Response headers X-ClickHouse-Query-Id, -Format, -Timezone, -Summary, -Server-Display-Name,
  and on errors X-ClickHouse-Exception-Code with ClickHouse's error text.
* Users from configuration (endpoint/users.py): passwords, a read-only role (``readonly = 2``: no
  writes, settings allowed), Basic auth, X-ClickHouse-User/-Key headers or user/password params.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from endpoint.users import User, Users

log = logging.getLogger("scores.serve")

# URL parameters that are part of the protocol, not ClickHouse settings
PROTOCOL_PARAMS = {
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
}
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
INSERT_FORMAT = re.compile(
    r"^\s*INSERT\s+INTO\s+.*?\bFORMAT\s+([A-Za-z0-9_]+)\s*$", re.IGNORECASE | re.DOTALL
)
ERROR_CODE = re.compile(r"Code:\s*(\d+)")
CREATE_DICTIONARY = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?DICTIONARY\b", re.IGNORECASE)
SOURCE_CREDENTIALS = re.compile(r"\b(USER|PASSWORD)\s+'(?:[^'\\]|\\.)*'", re.IGNORECASE)
WRITE_STATEMENT = re.compile(
    r"^\s*(INSERT|CREATE|DROP|ALTER|DELETE|UPDATE|TRUNCATE|RENAME|EXCHANGE|OPTIMIZE|SYSTEM|ATTACH|DETACH|GRANT|"
    r"REVOKE|KILL|BACKUP|RESTORE|UNDROP)\b",
    re.IGNORECASE,
)
HTTP_STATUS_FOR_CODE = {
    "516": HTTPStatus.UNAUTHORIZED,  # AUTHENTICATION_FAILED
    "164": HTTPStatus.FORBIDDEN,  # READONLY
    "497": HTTPStatus.FORBIDDEN,  # ACCESS_DENIED
    "62": HTTPStatus.BAD_REQUEST,  # SYNTAX_ERROR
    "60": HTTPStatus.NOT_FOUND,  # UNKNOWN_TABLE
    "81": HTTPStatus.NOT_FOUND,  # UNKNOWN_DATABASE
}


class QueryError(Exception):
    def __init__(
        self, code: int, message: str, status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    ) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class EngineConnection:
    """A chDB connection and its current database (USE is sent only when it changes)."""

    raw: Any
    database: str | None = None


@dataclass
class Session:
    connection: EngineConnection
    timeout: float
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    user: str = ""


class Engine:
    """The chDB engine of one data directory, with per-session and per-thread connections."""

    def __init__(self, path: str) -> None:
        from loaders.engine import open_embedded_client, open_engine_connection

        self.path = path
        self._admin = open_embedded_client(path)  # holds the directory for the server's lifetime
        self._open = open_engine_connection
        self._local = threading.local()
        self._sessions: dict[str, Session] = {}
        self._thread_connections: list[EngineConnection] = []
        self._sessions_lock = threading.Lock()
        self.version = str(self._admin.server_version)
        self.timezone = str(self._admin.query("SELECT timezone()").result_rows[0][0])

    def connection(self) -> EngineConnection:
        """A connection for this thread (queries without a session)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = EngineConnection(self._open(self.path))
            with self._sessions_lock:
                self._thread_connections.append(connection)
        return connection

    def close(self) -> None:
        """Close every connection (before the process exits: chDB wants its connections closed)."""
        with self._sessions_lock:
            connections = [*self._thread_connections, *(s.connection for s in self._sessions.values())]
            self._thread_connections.clear()
            self._sessions.clear()
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.raw.close()

    def session(self, session_id: str, timeout: float, user: str) -> Session:
        with self._sessions_lock:
            self._expire()
            session = self._sessions.get(session_id)
            if session is not None and session.user != user:
                raise QueryError(
                    373,
                    f"Code: 373. DB::Exception: Session {session_id} is locked by another user. "
                    "(SESSION_IS_LOCKED)",
                    HTTPStatus.FORBIDDEN,
                )
            if session is None:
                session = self._sessions[session_id] = Session(
                    EngineConnection(self._open(self.path)), timeout, user=user
                )
            session.timeout = timeout
            session.last_used = time.monotonic()
            return session

    def _expire(self) -> None:
        now = time.monotonic()
        for key, session in list(self._sessions.items()):
            if now - session.last_used > session.timeout and not session.lock.locked():
                del self._sessions[key]
                with contextlib.suppress(Exception):  # a closing connection has nothing left to report
                    session.connection.raw.close()

    @property
    def session_count(self) -> int:
        with self._sessions_lock:
            return len(self._sessions)


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(body))
    if encoding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(body))
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(body))
    raise QueryError(
        1,
        f"Code: 1. DB::Exception: Unsupported Content-Encoding: {encoding}. (UNSUPPORTED_METHOD)",
        HTTPStatus.BAD_REQUEST,
    )


def _compress(body: bytes, accept: str) -> tuple[bytes, str | None]:
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    for encoding in offered:
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.compress(body)), "lz4"
        if encoding == "zstd":
            import zstandard

            return zstandard.ZstdCompressor().compress(body), "zstd"
        if encoding == "gzip":
            return gzip.compress(body, compresslevel=3), "gzip"
        if encoding == "deflate":
            return zlib.compress(body, 3), "deflate"
    return body, None


LEADING_NOISE = re.compile(r"^(?:\s+|/\*.*?\*/|--[^\n]*(?:\n|$)|#[^\n]*(?:\n|$)|\()+", re.DOTALL)


def statement_head(sql: str) -> str:
    """The statement without leading whitespace, comments and parentheses (to classify it)."""
    return LEADING_NOISE.sub("", sql, count=1)


READ_STATEMENT = re.compile(r"^(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b", re.IGNORECASE)
TRAILING_FORMAT = re.compile(r"(?is)\s*\bFORMAT\s+[A-Za-z0-9_]+\s*;?\s*$")
TRAILING_SETTINGS = re.compile(
    r"(?is)\bSETTINGS\s+(?:[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?:'(?:[^'\\]|\\.)*'|[A-Za-z0-9_.+-]+)\s*,?\s*)+$"
)


def with_settings(sql: str, settings: dict[str, str]) -> str:
    """The query (without its FORMAT clause, which is passed apart) with a SETTINGS clause."""
    sql = TRAILING_FORMAT.sub("", sql).rstrip().rstrip(";")
    if not settings:
        return sql
    pairs = ", ".join(f"{key} = {_quote_setting(value)}" for key, value in settings.items())
    if TRAILING_SETTINGS.search(sql):
        return f"{sql}, {pairs}"
    return f"{sql}\nSETTINGS {pairs}"


def _quote_setting(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    server: EndpointServer
    protocol_version = "HTTP/1.1"
    server_version = "scores-clickhouse-endpoint"
    # headers and body go out in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK (40 ms per request on Linux)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # BaseHTTPRequestHandler's signature
        log.debug("%s %s", self.address_string(), format % args)

    # -- HTTP verbs --------------------------------------------------------------------------

    def do_GET(self) -> None:  # http.server's naming
        path = urlparse(self.path).path
        if path in ("/ping", "/", "") and "query=" not in self.path:
            self._send(HTTPStatus.OK, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        if path == "/replicas_status":
            self._send(HTTPStatus.OK, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.max_request_bytes
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked(limit)
            if body is None:
                return
        else:
            if length > limit:
                self._drain(length)
                self._error(
                    QueryError(
                        241,
                        f"Code: 241. DB::Exception: Request body of {length} bytes exceeds the limit of "
                        f"{limit} bytes (max_request_bytes). (MEMORY_LIMIT_EXCEEDED)",
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    )
                )
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
        self._handle(body)

    DRAIN_LIMIT = 64 << 20

    def _drain(self, length: int) -> None:
        """Read (and drop) a refused body, up to 64 MB, so the client gets to read the answer."""
        left = min(length, self.DRAIN_LIMIT)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                return
            left -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            total += size
            if total > limit:
                self._error(
                    QueryError(
                        241,
                        f"Code: 241. DB::Exception: Request body exceeds the limit of {limit} "
                        "bytes (max_request_bytes). (MEMORY_LIMIT_EXCEEDED)",
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    )
                )
                self.close_connection = True
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    # -- the query ----------------------------------------------------------------------------

    def _handle(self, raw_body: bytes) -> None:
        query_id = ""
        try:
            params = dict(parse_qsl(urlparse(self.path).query, keep_blank_values=True))
            query_id = params.get("query_id") or str(uuid.uuid4())
            user = self._authenticate(params)
            body = _decompress(raw_body, self.headers.get("Content-Encoding", ""))
            sql, data = self._split(params.get("query", ""), body)
            if not sql.strip():
                raise QueryError(
                    62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)", HTTPStatus.BAD_REQUEST
                )
            output, fmt, summary = self._execute(sql, data, params, user)
        except QueryError as ex:
            self._error(ex, query_id)
            return
        except Exception as ex:  # never a traceback to the client
            log.exception("internal error")
            self._error(
                QueryError(1001, f"Code: 1001. DB::Exception: {type(ex).__name__}: {ex}. (STD_EXCEPTION)"),
                query_id,
            )
            return
        headers = {
            "Content-Type": "text/plain; charset=UTF-8"
            if fmt.startswith(("TabSeparated", "TSV", "CSV", "Pretty"))
            else "application/octet-stream",
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Summary": json.dumps(summary),
        }
        if params.get("enable_http_compression") in ("1", "true"):
            output, encoding = _compress(output, self.headers.get("Accept-Encoding", ""))
            if encoding:
                headers["Content-Encoding"] = encoding
        self._send(HTTPStatus.OK, output, headers)

    def _authenticate(self, params: dict[str, str]) -> User:
        name = self.headers.get("X-ClickHouse-User") or params.get("user")
        password = self.headers.get("X-ClickHouse-Key") or params.get("password")
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            except ValueError:
                name = password = None
        user = self.server.users.check(name or "default", password or "")
        if user is None:
            raise QueryError(
                516,
                f"Code: 516. DB::Exception: {name or 'default'}: Authentication failed: password is "
                "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)",
                HTTPStatus.UNAUTHORIZED,
            )
        return user

    @staticmethod
    def _split(query_param: str, body: bytes) -> tuple[str, bytes]:
        """(sql, insert data): the body is data when the query in the URL is an INSERT ... FORMAT."""
        if query_param and body and INSERT_FORMAT.match(query_param):
            return query_param, body
        if query_param:
            return (query_param + ("\n" + body.decode() if body else "")), b""
        text = body.decode()
        match = re.match(r"(?is)^\s*(INSERT\s+INTO\s+.*?\bFORMAT\s+[A-Za-z0-9_]+)[ \t]*\r?\n(.*)$", text)
        if match:
            return match.group(1), match.group(2).encode()
        return text, b""

    def _execute(
        self, sql: str, data: bytes, params: dict[str, str], user: User
    ) -> tuple[bytes, str, dict[str, str]]:
        engine = self.server.engine
        head = statement_head(sql)
        if user.readonly and WRITE_STATEMENT.match(head):
            raise QueryError(
                164,
                f"Code: 164. DB::Exception: {user.name}: Cannot execute query in readonly mode. (READONLY)",
                HTTPStatus.FORBIDDEN,
            )
        if CREATE_DICTIONARY.match(head):
            # the endpoint's users are its own; the engine reads a dictionary's source as itself
            sql = SOURCE_CREDENTIALS.sub("", sql)
        settings = {
            k: v
            for k, v in params.items()
            if k not in PROTOCOL_PARAMS and not k.startswith("param_") and SETTING_NAME.match(k)
        }
        if user.readonly:
            settings["readonly"] = "2"
        bindings = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        database = params.get("database")
        fmt_match = FORMAT_CLAUSE.search(sql)
        fmt = fmt_match.group(1) if fmt_match else (params.get("default_format") or "TabSeparated")

        session_id = params.get("session_id")
        if session_id:
            timeout = float(params.get("session_timeout") or self.server.session_timeout)
            session = engine.session(session_id, min(timeout, 3600.0), user.name)
            with session.lock:
                return self._run(
                    session.connection, sql, data, fmt, settings, bindings, database, sticky=True
                )
        return self._run(engine.connection(), sql, data, fmt, settings, bindings, database, sticky=False)

    def _run(
        self,
        connection: EngineConnection,
        sql: str,
        data: bytes,
        fmt: str,
        settings: dict[str, str],
        bindings: dict[str, str],
        database: str | None,
        sticky: bool,
    ) -> tuple[bytes, str, dict[str, str]]:
        applied: list[str] = []
        try:
            if database and database != connection.database:
                connection.raw.query(f"USE `{database.replace('`', '')}`")
                connection.database = database
            if not data and READ_STATEMENT.match(statement_head(sql)):
                # URL settings apply to this query only: a SETTINGS clause, no session state
                result = connection.raw.query(with_settings(sql, settings), fmt, params=bindings)
            else:
                for key, value in settings.items():
                    connection.raw.query(f"SET {key} = {_quote_setting(value)}")
                    applied.append(key)
                if data:
                    with tempfile.NamedTemporaryFile(prefix="scores-insert-", suffix=".bin") as handle:
                        handle.write(data)
                        handle.flush()
                        statement = re.sub(
                            r"(?is)\bFORMAT\s+([A-Za-z0-9_]+)\s*$",
                            lambda m: f"FROM INFILE '{handle.name}' FORMAT {m.group(1)}",
                            sql.strip(),
                        )
                        result = connection.raw.query(statement, "TabSeparated", params=bindings)
                else:
                    result = connection.raw.query(sql, fmt, params=bindings)
        except Exception as ex:
            message = str(ex).strip()
            match = ERROR_CODE.search(message)
            code = match.group(1) if match else "1001"
            message = message[message.find("Code:") :] if "Code:" in message else message
            raise QueryError(
                int(code), message, HTTP_STATUS_FOR_CODE.get(code, HTTPStatus.INTERNAL_SERVER_ERROR)
            ) from None
        finally:
            for key in applied:  # URL settings never outlive their query
                with contextlib.suppress(Exception):
                    connection.raw.query(f"SET {key} = DEFAULT")
        output = result.bytes() if hasattr(result, "bytes") else bytes(result)
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": str(getattr(result, "rows_written", lambda: 0)()),
            "written_bytes": str(getattr(result, "bytes_written", lambda: 0)()),
            "total_rows_to_read": str(result.rows_read()),
            "result_rows": "0",
            "result_bytes": str(len(output)),
            "elapsed_ns": str(int(result.elapsed() * 1e9)),
        }
        return output, fmt, summary

    # -- responses ----------------------------------------------------------------------------

    def _error(self, error: QueryError, query_id: str = "") -> None:
        text = str(error)
        if not text.endswith("\n"):
            text += f" (version {self.server.engine.version})\n"
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(error.code),
        }
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        self._send(error.status, text.encode(), headers)

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("X-ClickHouse-Server-Display-Name", "scores-chdb")
        self.send_header("X-ClickHouse-Timezone", self.server.engine.timezone)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        engine: Engine,
        users: Users,
        max_request_bytes: int = 1 << 30,
        session_timeout: float = 60.0,
    ) -> None:
        super().__init__(address, Handler)
        self.engine, self.users = engine, users
        self.max_request_bytes, self.session_timeout = max_request_bytes, session_timeout

    def server_close(self) -> None:
        super().server_close()
        self.engine.close()


def serve(
    path: str,
    host: str = "127.0.0.1",
    port: int = 8123,
    users: Users | None = None,
    max_request_bytes: int = 1 << 30,
    ready: threading.Event | None = None,
) -> EndpointServer:
    """Start the endpoint (blocking until shutdown unless run on a thread by the caller)."""
    engine = Engine(path)
    server = EndpointServer((host, port), engine, users or Users.from_env(), max_request_bytes)
    if ready is not None:
        ready.set()
    return server


def default_port() -> int:
    return int(os.environ.get("SCORES_SERVE_PORT", "8123"))
