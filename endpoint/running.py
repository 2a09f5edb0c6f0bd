"""Queries in flight, by the client's query id: for KILL QUERY and for cancelling the queries whose
client went away.

Every query runs with a comment naming its query id (``/* scores-serve <id> */``), so the endpoint
can find the engine's own id in ``system.processes`` and kill it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from endpoint.errors import TOO_MANY_SIMULTANEOUS_QUERIES, QueryError

MARKER = "scores-serve"


def marker(query_id: str) -> str:
    """The comment that tags a query in system.processes (query ids are checked to be safe)."""
    return f"/* {MARKER} {query_id} */\n"


@dataclass
class Running:
    """A query in flight: who runs it and on which socket its client waits."""

    query_id: str
    user: str
    client: socket.socket | None
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False


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
