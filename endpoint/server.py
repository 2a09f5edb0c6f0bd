"""``scores serve``: ClickHouse's HTTP interface over the embedded engine.

One process owns the chDB directory and every client (clickhouse-connect, dbt-clickhouse with
driver http, Superset) talks HTTP to it. This module is the HTTP layer: framing, authentication,
request limits, response headers. What a request may run, and how it runs, is endpoint/service.py.

Implemented part of the ClickHouse HTTP interface:
* ``GET /ping`` -> ``Ok.`` (no credentials needed, like ClickHouse);
* ``POST /`` with the SQL in ``query=`` and/or the body (for ``INSERT ... FORMAT <fmt>`` or
  ``INSERT ... VALUES`` the body is the data); ``GET /?query=`` for statements that only read;
* request bodies compressed with gzip, deflate, lz4 or zstd; responses compressed when the client
  asks (``enable_http_compression=1`` and Accept-Encoding);
* URL parameters ``database``, ``default_format``, ``query_id``, ``session_id``,
  ``session_timeout``, ``param_<name>`` (server-side bindings ``{name:Type}``) and ClickHouse
  settings (applied to the query, within the role's limits);
* Basic auth, X-ClickHouse-User/-Key headers or user/password parameters; response headers
  X-ClickHouse-Query-Id, -Format, -Timezone, -Summary, -Server-Display-Name, and on errors
  X-ClickHouse-Exception-Code with ClickHouse's error text.

Defences of the HTTP layer: credentials are checked before a body is read; the Host header must
name this server (or be an IP address) and a browser's Origin must too, so a web page cannot
drive the endpoint (DNS rebinding, cross-site requests); sockets have timeouts, the number of
connections is bounded, and nothing a client sends reaches a response header unchecked.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import ipaddress
import json
import logging
import os
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from endpoint.bodies import Body, read_body
from endpoint.engine_access import EngineAccess
from endpoint.errors import (
    AUTHENTICATION_FAILED,
    BAD_ARGUMENTS,
    INTERNAL,
    SYNTAX_ERROR,
    TOO_MANY_SIMULTANEOUS_QUERIES,
    QueryError,
)
from endpoint.service import Endpoint, Options, Request
from endpoint.users import User, Users

log = logging.getLogger("scores.serve")

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


def _safe_id(value: str, what: str) -> str:
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
class Limits:
    max_request_bytes: int = 1 << 30  # writers' bodies (INSERT data), after decompression
    max_query_bytes: int = 1 << 20  # readers' bodies (SQL only)
    body_seconds: float = 300.0  # to receive a whole body
    socket_seconds: float = 30.0  # of silence on a connection
    max_connections: int = 64
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)


class Handler(BaseHTTPRequestHandler):
    server: EndpointServer
    protocol_version = "HTTP/1.1"
    server_version = "scores-clickhouse-endpoint"
    sys_version = ""
    # headers and body go out in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK (40 ms per request on Linux)
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # socketserver applies the class attribute `timeout` to the socket: per server here
        self.request.settimeout(self.server.limits.socket_seconds)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # BaseHTTPRequestHandler's signature
        log.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # malformed request lines and headers: a short plain answer, never the client's text echoed
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(
                HTTPStatus(code), f"{HTTPStatus(code).phrase}\n".encode(), {"Content-Type": "text/plain"}
            )

    # -- HTTP verbs --------------------------------------------------------------------------

    def do_GET(self) -> None:  # http.server's naming
        url = urlparse(self.path)
        if url.path in ("/ping", "/replicas_status"):
            self._send(HTTPStatus.OK, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        if url.path in ("/", ""):
            params = self._params(url.query)
            if params is None:
                return
            if "query" not in params:
                self._send(HTTPStatus.OK, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
                return
            self._handle(params, read_only=True)
            return
        self._error(QueryError(BAD_ARGUMENTS, f"no handler for {url.path[:64]!r}", HTTPStatus.NOT_FOUND))

    def do_POST(self) -> None:
        url = urlparse(self.path)
        if url.path not in ("/", ""):
            self.close_connection = True
            self._error(QueryError(BAD_ARGUMENTS, f"no handler for {url.path[:64]!r}", HTTPStatus.NOT_FOUND))
            return
        params = self._params(url.query)
        if params is not None:
            self._handle(params, read_only=False)

    def _params(self, query: str) -> dict[str, str] | None:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False, max_num_fields=1000)
        except ValueError:
            self._error(QueryError(BAD_ARGUMENTS, "too many URL parameters"))
            return None
        return dict(pairs)

    # -- one request -------------------------------------------------------------------------

    def _handle(self, params: dict[str, str], read_only: bool) -> None:
        query_id = ""
        body: Body | None = None
        try:
            self._check_origin()
            query_id = (
                _safe_id(params["query_id"], "query_id") if params.get("query_id") else str(uuid.uuid4())
            )
            user = self._authenticate(params)
            limit = (
                self.server.limits.max_request_bytes if user.writes else self.server.limits.max_query_bytes
            )
            body = read_body(self.rfile, self.headers, limit, self.server.limits.body_seconds)  # type: ignore[arg-type]
            request = self._request(params, user, query_id, body, read_only)
            answer = self.server.endpoint.run(request)
        except QueryError as ex:
            self._error(ex, query_id)
            return
        except Exception:  # never a traceback to the client
            log.exception("internal error")
            self._error(QueryError(INTERNAL, "internal error of the endpoint (see its log)"), query_id)
            return
        finally:
            if body is not None:
                body.close()
        headers = {
            "Content-Type": "text/plain; charset=UTF-8"
            if answer.format.startswith(("TabSeparated", "TSV", "CSV", "Pretty"))
            else "application/octet-stream",
            "X-ClickHouse-Format": answer.format,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Summary": json.dumps(answer.summary),
        }
        output = answer.output
        if params.get("enable_http_compression") in ("1", "true"):
            output, encoding = _compress(output, self.headers.get("Accept-Encoding", ""))
            if encoding:
                headers["Content-Encoding"] = encoding
        self._send(HTTPStatus.OK, output, headers)

    def _request(
        self, params: dict[str, str], user: User, query_id: str, body: Body, read_only: bool
    ) -> Request:
        settings = {
            k: v for k, v in params.items() if k not in PROTOCOL_PARAMS and not k.startswith("param_")
        }
        bindings = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        session_id = _safe_id(params["session_id"], "session_id") if params.get("session_id") else None
        try:
            timeout = float(params.get("session_timeout") or self.server.session_timeout)
        except ValueError:
            raise QueryError(BAD_ARGUMENTS, "session_timeout must be a number of seconds") from None
        if not 0 < timeout <= MAX_SESSION_TIMEOUT:
            raise QueryError(
                BAD_ARGUMENTS, f"session_timeout must be between 0 and {MAX_SESSION_TIMEOUT:.0f} s"
            )
        request = Request(
            user,
            query_id,
            params,
            settings,
            bindings,
            session_id=session_id,
            session_timeout=timeout,
            read_only=read_only,
            client=self.connection,
        )
        self._split(request, params.get("query", ""), body)
        return request

    def _split(self, request: Request, query: str, body: Body) -> None:
        """The statement of a request, and the INSERT data that follows it if it has some: in the
        body after a query in the URL, or after the statement in the body. A statement is parsed
        first; only an INSERT is looked at with the lexer to find where its data starts."""
        parser = self.server.endpoint.parser
        if query:
            if self._takes_data(query):
                inline = parser.inline_insert((query + "\n").encode())
                if inline is not None:
                    request.insert = inline
                    request.data = [(query + "\n").encode()[inline.data_offset :], (body, 0)]
                    return
            text = query + ("\n" + _text(body.read()) if body.size else "")
        else:
            limit = self.server.limits.max_query_bytes
            raw = body.read(0, limit + 1) if body.size <= limit else b""
            try:
                text = raw.decode() if raw else ""
            except UnicodeDecodeError:
                text = ""
            # a body that is too long for a query, or not text, can only be an INSERT with its data
            if not text or self._takes_data(text):
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

    def _takes_data(self, sql: str) -> bool:
        """Whether ``sql`` is an INSERT whose data comes after it (VALUES or FORMAT), not from a
        SELECT. Text that does not parse is not (the caller reports its error as a statement)."""
        try:
            statement = self.server.endpoint.parser.parse(sql)
        except QueryError:
            return False
        if statement.kind != "InsertQuery":
            return False
        return statement.ast is None or ("select" not in statement.ast and "infile" not in statement.ast)

    def _check_origin(self) -> None:
        allowed = self.server.allowed_hosts
        host = self.headers.get("Host")
        if host is not None and not _host_allowed(host, allowed):
            raise QueryError(
                BAD_ARGUMENTS,
                "the Host header does not name this server (add it with --allowed-host)",
                HTTPStatus.MISDIRECTED_REQUEST,
            )
        origin = self.headers.get("Origin")
        if origin is not None and origin != "null":
            origin_host = urlparse(origin).netloc
            if not origin_host or not _host_allowed(origin_host, allowed):
                raise QueryError(BAD_ARGUMENTS, "cross-origin requests are not allowed", HTTPStatus.FORBIDDEN)
        elif origin == "null":
            raise QueryError(BAD_ARGUMENTS, "cross-origin requests are not allowed", HTTPStatus.FORBIDDEN)

    def _authenticate(self, params: dict[str, str]) -> User:
        name = self.headers.get("X-ClickHouse-User") or params.get("user")
        password = self.headers.get("X-ClickHouse-Key") or params.get("password")
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(authorization[6:], validate=True).decode().partition(":")
            except ValueError:
                name = password = None
        user = self.server.users.check(name or "default", password or "")
        if user is None:
            # the body stays unread: the connection closes after the answer
            self.close_connection = True
            shown = (name or "default")[:64]
            raise QueryError(
                AUTHENTICATION_FAILED,
                f"{shown!r}: Authentication failed: password is incorrect, "
                "or there is no user with such name",
            )
        return user

    # -- responses ----------------------------------------------------------------------------

    def _error(self, error: QueryError, query_id: str = "") -> None:
        text = str(error)
        if not text.endswith("\n"):
            text += f" (version {self.server.endpoint.version})\n"
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(error.code),
        }
        if query_id:
            headers["X-ClickHouse-Query-Id"] = query_id
        if (
            error.status in (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.UNAUTHORIZED)
            or error.status >= 500
        ):
            self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(error.status, text.encode(), headers)

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            # every value is ours or checked; this keeps a slip from becoming a header injection
            self.send_header(key, value.replace("\r", " ").replace("\n", " "))
        self.send_header("X-ClickHouse-Server-Display-Name", "scores-chdb")
        self.send_header("X-ClickHouse-Timezone", self.server.endpoint.timezone)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _text(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as ex:
        raise QueryError(BAD_ARGUMENTS, f"the query is not valid UTF-8 (byte {ex.start})") from None


def _host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """A Host (or Origin host) names this server: an IP address, or a configured name."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    try:
        ipaddress.ip_address(name)
        return True  # DNS rebinding needs a name; an address is what the client connected to
    except ValueError:
        return name in allowed


def _compress(body: bytes, accept: str) -> tuple[bytes, str | None]:
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    for encoding in offered:
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.compress(body)), "lz4"
        if encoding == "gzip":
            return gzip.compress(body, compresslevel=3), "gzip"
        if encoding == "deflate":
            return zlib.compress(body, 3), "deflate"
    return body, None


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        endpoint: Endpoint,
        users: Users,
        limits: Limits | None = None,
        session_timeout: float = 60.0,
    ) -> None:
        super().__init__(address, Handler)
        self.endpoint, self.users = endpoint, users
        self.limits = limits or Limits()
        self.session_timeout = session_timeout
        self.allowed_hosts = frozenset({"localhost", *(h.lower() for h in self.limits.allowed_hosts)})
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            # every slot is taken: a short answer, then close (no thread, no engine work)
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
                    + f"X-ClickHouse-Exception-Code: {TOO_MANY_SIMULTANEOUS_QUERIES}\r\n\r\n".encode()
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def server_close(self) -> None:
        super().server_close()
        self.endpoint.close()


def serve_directory(chdb_path: str | os.PathLike[str]) -> Path:
    """Where the endpoint keeps its engine configuration and generated users file."""
    real = Path(os.path.realpath(chdb_path))
    return real.with_name(real.name + ".serve")


def serve(
    path: str,
    host: str = "127.0.0.1",
    port: int = 8123,
    users: Users | None = None,
    options: Options | None = None,
    limits: Limits | None = None,
    access: EngineAccess | None = None,
) -> EndpointServer:
    """Open the warehouse and bind the endpoint (serve_forever() runs it)."""
    from loaders.config import Settings

    directory = serve_directory(path)
    if options is None:
        settings = Settings.from_env()
        options = Options(databases=(settings.database, settings.raw_database))
    users = users or Users.from_env(directory / "users.json")
    endpoint = Endpoint(path, access or EngineAccess(directory), options)
    try:
        return EndpointServer((host, port), endpoint, users, limits)
    except BaseException:
        endpoint.close()
        raise
