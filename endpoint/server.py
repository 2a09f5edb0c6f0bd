"""``scores serve``: ClickHouse's HTTP interface over the embedded engine.

One process owns the chDB directory and every client (clickhouse-connect, dbt-clickhouse with
driver http, Superset) talks HTTP to it. This module is the HTTP layer: the verbs, authentication,
request limits, errors; a request's parameters and statement are read by endpoint/request.py, its
Host and Origin checked by endpoint/origin.py, its answer framed by endpoint/answer.py. What a
request may run, and how it runs, is endpoint/service.py; endpoint/startup.py starts the server.

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
import logging
import threading
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from endpoint.answer import http_answer
from endpoint.bodies import Body, read_body
from endpoint.errors import (
    AUTHENTICATION_FAILED,
    BAD_ARGUMENTS,
    INTERNAL,
    TOO_MANY_SIMULTANEOUS_QUERIES,
    QueryError,
)
from endpoint.origin import check_origin
from endpoint.request import request_of, safe_id
from endpoint.service import Endpoint
from endpoint.users import User, Users

log = logging.getLogger("scores.serve")


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
            check_origin(self.headers, self.server.allowed_hosts)
            query_id = (
                safe_id(params["query_id"], "query_id") if params.get("query_id") else str(uuid.uuid4())
            )
            user = self._authenticate(params)
            limit = (
                self.server.limits.max_request_bytes if user.writes else self.server.limits.max_query_bytes
            )
            body = read_body(self.rfile, self.headers, limit, self.server.limits.body_seconds)  # type: ignore[arg-type]
            request = request_of(
                params,
                user,
                query_id,
                body,
                read_only,
                self.connection,
                self.server.endpoint.parser,
                self.server.limits.max_query_bytes,
                self.server.session_timeout,
            )
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
        output, headers = http_answer(answer, query_id, params, self.headers.get("Accept-Encoding", ""))
        self._send(HTTPStatus.OK, output, headers)

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
