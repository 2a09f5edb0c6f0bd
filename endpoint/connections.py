"""Engine connections of the endpoint: one role's setup each, pooled per user, per session.

A chDB connection keeps its own settings and current database (chdb-core gives each connection
its own session). The endpoint therefore never shares a connection between users:

* requests without a session run on a pooled connection of their user (and of the URL settings
  they carry, applied when the connection is set up, before it is locked); nothing a request
  runs can change a pooled connection's state (SET and USE without a session are answered
  without touching it, temporary tables need a session);
* a session (``session_id``) has its own connection, locked to the user who opened it, closed when
  it expires;
* idle connections are bounded per key and in total, and closed when evicted.

Every query runs with a comment naming its query id (``/* scores-serve <id> */``), so the endpoint
can find the engine's own id in ``system.processes`` and kill it: when the client asks (KILL QUERY
WHERE query_id = ...), or when the client goes away.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from endpoint.errors import SESSION_IS_LOCKED, TOO_MANY_SIMULTANEOUS_QUERIES, QueryError, from_engine
from endpoint.parsing import string_literal

MARKER = "scores-serve"


def marker(query_id: str) -> str:
    """The comment that tags a query in system.processes (query ids are checked to be safe)."""
    return f"/* {MARKER} {query_id} */\n"


@dataclass(frozen=True)
class Role:
    """Who a connection is set up for: a user, as a reader or a writer. A user whose role changes
    in the users file gets new connections (the engine's limits and read-only mode go with them)."""

    user: str
    writes: bool
    scope: str = ""  # a roster user's scope (endpoint/scopes.py), fixed on its connections


@dataclass
class Connection:
    raw: Any
    role: Role
    database: str | None = None

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a closing connection has nothing left to report
            self.raw.close()


@dataclass
class Session:
    connection: Connection
    timeout: float
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    temporary_tables: set[str] = field(default_factory=set)


@dataclass
class Running:
    """A query in flight: who runs it and on which socket its client waits."""

    query_id: str
    user: str
    client: socket.socket | None
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False


class Connections:
    """Client connections of the engine, by user (and URL settings) and by session."""

    def __init__(
        self,
        open_raw: Callable[[], Any],
        setup: Callable[[bool, str], tuple[list[str], list[str]]],
        max_idle_per_key: int = 4,
        max_idle: int = 64,
        max_sessions: int = 512,
        max_sessions_per_user: int = 128,
    ) -> None:
        self._open_raw = open_raw
        # (writes, scope) -> the role's setup statements, and its lock (EngineAccess.setup)
        self._setup = setup
        self._idle: OrderedDict[tuple[Role, tuple[tuple[str, str], ...]], list[Connection]] = OrderedDict()
        self._idle_count = 0
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.max_idle_per_key, self.max_idle = max_idle_per_key, max_idle
        self.max_sessions, self.max_sessions_per_user = max_sessions, max_sessions_per_user

    def open(self, role: Role, settings: dict[str, str]) -> Connection:
        """A new connection of ``role`` with ``settings`` applied (before it is locked)."""
        raw = self._open_raw()
        statements, lock = self._setup(role.writes, role.scope)
        try:
            for statement in statements:
                raw.query(statement)
            for name, value in settings.items():
                # the name is one of the engine's settings (checked by the caller), the value a literal
                raw.query(f"SET {name} = {string_literal(value)}")
            for statement in lock:
                raw.query(statement)
        except Exception as ex:
            with contextlib.suppress(Exception):
                raw.close()
            raise from_engine(ex) from None
        return Connection(raw, role)

    @contextlib.contextmanager
    def pooled(self, role: Role, settings: dict[str, str]) -> Iterator[Connection]:
        key = (role, tuple(sorted(settings.items())))
        with self._lock:
            idle = self._idle.get(key)
            connection = idle.pop() if idle else None
            if connection is not None:
                self._idle_count -= 1
                self._idle.move_to_end(key)
        if connection is None:
            connection = self.open(role, settings)
        healthy = False
        try:
            yield connection
            healthy = True
        finally:
            if healthy:
                self._give_back(key, connection)
            else:
                connection.close()

    def _give_back(self, key: tuple[Role, tuple[tuple[str, str], ...]], connection: Connection) -> None:
        evicted: list[Connection] = []
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) >= self.max_idle_per_key:
                evicted.append(connection)
            else:
                idle.append(connection)
                self._idle_count += 1
                self._idle.move_to_end(key)
            while self._idle_count > self.max_idle:
                oldest_key, oldest = next(iter(self._idle.items()))
                if oldest:
                    evicted.append(oldest.pop(0))
                    self._idle_count -= 1
                if not oldest:
                    del self._idle[oldest_key]
        for stale in evicted:
            stale.close()

    # -- sessions --------------------------------------------------------------------------

    def session(self, session_id: str, role: Role, timeout: float) -> Session:
        evicted: list[Connection] = []
        with self._lock:
            self._expire()
            session = self._sessions.get(session_id)
            if session is not None and session.connection.role.user != role.user:
                raise QueryError(SESSION_IS_LOCKED, f"Session {session_id} is locked by another user")
            if session is not None and session.connection.role != role and not session.lock.locked():
                # the user's role changed: the session's settings and limits go with the old one
                del self._sessions[session_id]
                evicted.append(session.connection)
                session = None
            if session is None:
                # at a limit, the least recently used idle session of this user (else of anyone)
                # makes room: clients such as SQLAlchemy pools open a session per connection
                mine = [s for s in self._sessions.values() if s.connection.role.user == role.user]
                if len(mine) >= self.max_sessions_per_user:
                    evicted += self._evict_idle(mine)
                if len(self._sessions) >= self.max_sessions:
                    evicted += self._evict_idle(list(self._sessions.values()))
                if len(self._sessions) >= self.max_sessions or (
                    sum(1 for s in self._sessions.values() if s.connection.role.user == role.user)
                    >= self.max_sessions_per_user
                ):
                    raise QueryError(TOO_MANY_SIMULTANEOUS_QUERIES, "too many sessions are running queries")
        for connection in evicted:
            connection.close()
        if session is None:
            created = Session(self.open(role, {}), timeout)
            with self._lock:
                session = self._sessions.setdefault(session_id, created)
            if session is not created:
                created.connection.close()
                if session.connection.role.user != role.user:
                    raise QueryError(SESSION_IS_LOCKED, f"Session {session_id} is locked by another user")
        session.timeout = timeout
        session.last_used = time.monotonic()
        return session

    def _evict_idle(self, candidates: list[Session]) -> list[Connection]:
        idle = sorted((s for s in candidates if not s.lock.locked()), key=lambda s: s.last_used)
        if not idle:
            return []
        oldest = idle[0]
        for key, value in list(self._sessions.items()):
            if value is oldest:
                del self._sessions[key]
        return [oldest.connection]

    def _expire(self) -> None:
        now = time.monotonic()
        for key, session in list(self._sessions.items()):
            if now - session.last_used > session.timeout and not session.lock.locked():
                del self._sessions[key]
                session.connection.close()

    def close(self) -> None:
        with self._lock:
            connections = [c for idle in self._idle.values() for c in idle]
            connections += [s.connection for s in self._sessions.values()]
            self._idle.clear()
            self._sessions.clear()
            self._idle_count = 0
        for connection in connections:
            connection.close()


class Registry:
    """Queries in flight, for KILL QUERY and for cancelling queries whose client went away."""

    def __init__(self, find_engine_ids: Callable[[str], list[str]], kill: Callable[[str], None]) -> None:
        self._running: dict[str, Running] = {}
        self._lock = threading.Lock()
        self._find, self._kill = find_engine_ids, kill
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="scores-serve-cancel", daemon=True)
        self._watcher.start()

    @contextlib.contextmanager
    def running(self, query_id: str, user: str, client: socket.socket | None) -> Iterator[Running]:
        entry = Running(query_id, user, client)
        with self._lock:
            if query_id in self._running:
                raise QueryError(
                    TOO_MANY_SIMULTANEOUS_QUERIES, f"a query with id {query_id} is already running"
                )
            self._running[query_id] = entry
        try:
            yield entry
        finally:
            with self._lock:
                self._running.pop(query_id, None)

    def owner(self, query_id: str) -> str | None:
        with self._lock:
            entry = self._running.get(query_id)
            return entry.user if entry else None

    def cancel(self, query_id: str) -> bool:
        """Kill the engine query of ``query_id``; True if one was found."""
        with self._lock:
            entry = self._running.get(query_id)
            if entry is not None:
                entry.cancelled = True
        if entry is None:
            return False
        killed = False
        # the engine registers a query a moment after it is sent; look a few times
        for _ in range(20):
            for engine_id in self._find(query_id):
                with contextlib.suppress(Exception):
                    self._kill(engine_id)
                    killed = True
            if killed:
                return True
            with self._lock:
                if query_id not in self._running:
                    return True
            time.sleep(0.05)
        return killed

    def _watch(self) -> None:
        """Cancel the queries whose client closed its connection (as ClickHouse's
        cancel_http_readonly_queries_on_client_close does, for every query here)."""
        while not self._stop.wait(0.2):
            with self._lock:
                entries = [e for e in self._running.values() if e.client is not None and not e.cancelled]
            for entry in entries:
                if _gone(entry.client):
                    threading.Thread(target=self.cancel, args=(entry.query_id,), daemon=True).start()

    def close(self) -> None:
        self._stop.set()


def _gone(client: socket.socket | None) -> bool:
    if client is None:
        return False
    try:
        readable, _, errored = select.select([client], [], [client], 0)
        if errored:
            return True
        if not readable:
            return False
        return client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True
