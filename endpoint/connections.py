"""Engine connections of the endpoint: one role's setup each, pooled per user.

A chDB connection keeps its own settings and current database (chdb-core gives each connection
its own session). The endpoint therefore never shares a connection between users:

* requests without a session run on a pooled connection of their user (and of the URL settings
  they carry, applied when the connection is set up, before it is locked); nothing a request
  runs can change a pooled connection's state (SET and USE without a session are answered
  without touching it, temporary tables need a session);
* a session (``session_id``) has its own connection (endpoint/sessions.py);
* idle connections are bounded per key and in total, and closed when evicted.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from endpoint.errors import from_engine
from endpoint.parsing import string_literal


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


class Connections:
    """Client connections of the engine, by user (and URL settings)."""

    def __init__(
        self,
        open_raw: Callable[[], Any],
        setup: Callable[[bool, str], tuple[list[str], list[str]]],
        max_idle_per_key: int = 4,
        max_idle: int = 64,
    ) -> None:
        self._open_raw = open_raw
        # (writes, scope) -> the role's setup statements, and its lock (EngineAccess.setup)
        self._setup = setup
        self._idle: OrderedDict[tuple[Role, tuple[tuple[str, str], ...]], list[Connection]] = OrderedDict()
        self._idle_count = 0
        self._lock = threading.Lock()
        self.max_idle_per_key, self.max_idle = max_idle_per_key, max_idle

    def open(self, role: Role, settings: dict[str, str]) -> Connection:
        """A new connection of ``role`` with ``settings`` applied (before it is locked)."""
        raw = self._open_raw()
        statements, lock = self._setup(role.writes, role.scope)
        try:
            # each name is one of the engine's settings (checked by the caller), each value a literal
            given = [f"SET {name} = {string_literal(value)}" for name, value in settings.items()]
            for statement in [*statements, *given, *lock]:
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

    def close(self) -> None:
        with self._lock:
            connections = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
            self._idle_count = 0
        for connection in connections:
            connection.close()
