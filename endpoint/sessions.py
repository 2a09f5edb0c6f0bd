"""Sessions (``session_id``) of ``scores serve``: each has its own engine connection, locked to the
user who opened it and closed when it expires; URL settings of a request in a session apply to
that request's query only."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from endpoint.connections import Connection, Role
from endpoint.errors import SESSION_IS_LOCKED, TOO_MANY_SIMULTANEOUS_QUERIES, QueryError
from endpoint.parsing import string_literal


@dataclass
class Session:
    connection: Connection
    timeout: float
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    temporary_tables: set[str] = field(default_factory=set)


class Sessions:
    """The open sessions, by id, bounded in total and per user."""

    def __init__(
        self,
        open_connection: Callable[[Role, dict[str, str]], Connection],
        max_sessions: int = 512,
        max_sessions_per_user: int = 128,
    ) -> None:
        self._open = open_connection
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.max_sessions, self.max_sessions_per_user = max_sessions, max_sessions_per_user

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
            created = Session(self._open(role, {}), timeout)
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
            connections = [s.connection for s in self._sessions.values()]
            self._sessions.clear()
        for connection in connections:
            connection.close()


@contextlib.contextmanager
def settings_for_one_query(connection: Connection, settings: dict[str, str]) -> Iterator[None]:
    """URL settings of a request in a session apply to its query only, as in ClickHouse: set
    them (the engine checks them against the role's constraints), then put back what was there."""
    names = "[" + ", ".join(string_literal(name) for name in settings) + "]"
    result = connection.raw.query(
        f"SELECT name, value, changed FROM system.settings WHERE has({names}, name)", "JSONEachRow"
    )
    previous = {
        row["name"]: (row["value"], bool(row["changed"]))
        for row in (json.loads(line) for line in bytes(result.bytes()).decode().splitlines() if line)
    }
    applied = []
    try:
        for name, value in settings.items():
            connection.raw.query(f"SET {name} = {string_literal(value)}")
            applied.append(name)
        yield
    finally:
        for name in applied:
            value, changed = previous.get(name, ("", False))
            with contextlib.suppress(Exception):  # the connection is closed with its session if this fails
                connection.raw.query(f"SET {name} = {string_literal(value) if changed else 'DEFAULT'}")
