"""Open the embedded ClickHouse engine (chDB) on a data directory, one process at a time.

chDB runs ClickHouse inside the Python process. A data directory can be opened by one
process only: ClickHouse locks ``<dir>/status``. A second process gets a terse engine error
("Error initializing EmbeddedServer"), so we look at the lock first and raise
:class:`WarehouseBusyError`, which names the directory, the process holding it and what to do.
The engine gives the same error for a directory it cannot read (a damaged metadata file): then
the lock is free and :class:`WarehouseOpenError` gives the engine's error and the directory.

Several clients in the *same* process may share the directory (dbt with threads > 1 does).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

__all__ = [
    "WarehouseBusyError",
    "WarehouseOpenError",
    "holder_of",
    "open_embedded_client",
    "open_engine_connection",
]

_opened_in_this_process: set[str] = set()

# Engine settings for the embedded engine (they become the defaults of every query it runs).
# - background_pool_size: chDB sizes the merge/mutation pool by the core count (2 here); a
#   lightweight DELETE with a subquery occupies one task per part and the pool can starve, so it
#   gets more room. Threads only exist while there is work.
# - output_format_parallel_formatting: off. Results here are small (reports, lookups, dbt's
#   metadata queries), and handing them to two extra threads (Formatter, Collector) costs more than
#   formatting them (benchmarks/README.md, "Timings behind the code"). A big export can turn it on
#   with a SETTINGS clause.
ENGINE_OPTIONS: dict[str, str] = {"background_pool_size": "16", "output_format_parallel_formatting": "0"}


class WarehouseBusyError(RuntimeError):
    """The chDB data directory is held by another process."""

    def __init__(self, path: str, holder: str | None) -> None:
        who = f"process {holder}" if holder else "another process"
        super().__init__(
            f"The warehouse data directory {path} is in use by {who}.\n"
            "Embedded ClickHouse (chDB) lets only one process open a data directory at a time.\n"
            "Wait for that process to finish and run this command again, or stop it."
        )
        self.path = path
        self.holder = holder


class WarehouseOpenError(RuntimeError):
    """The chDB data directory is free but the engine cannot open it (e.g. a damaged file)."""

    def __init__(self, path: str, engine_error: str) -> None:
        first = engine_error.strip().splitlines()[0] if engine_error.strip() else "unknown error"
        super().__init__(
            f"The embedded engine cannot open the warehouse data directory {path} (no other process "
            f"holds it): {first}\n"
            "The engine's own log above names the cause, such as a damaged file under "
            f"{path}/metadata; repair or remove it, or point SCORES_CHDB_PATH at another directory."
        )
        self.path = path
        self.engine_error = engine_error


def _describe_pid(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    words = [w for w in raw.decode(errors="replace").split("\0") if w]
    if not words:
        return pid
    command = " ".join(Path(words[0]).name if i == 0 else w for i, w in enumerate(words))
    if len(command) > 120:
        command = command[:117] + "..."
    return f"{pid} ({command})"


def holder_of(path: str | os.PathLike[str]) -> str | None:
    """Return a description of the process holding ``path``, or None if the directory is free.

    Reads ClickHouse's own lock: ``<path>/status`` is flock()ed by the engine that owns the
    directory and contains its PID.
    """
    status = Path(path) / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as ex:
            if ex.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            text = status.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("PID:"):
                    return _describe_pid(line.split(":", 1)[1].strip())
            return "unknown"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def open_embedded_client(
    path: str | os.PathLike[str],
    *,
    database: str | None = None,
    settings: dict[str, Any] | None = None,
    engine_options: dict[str, str] | None = None,
) -> Client:
    """Open a clickhouse-connect client on the chDB engine stored in ``path``.

    Raises :class:`WarehouseBusyError` when another process holds the directory, and
    :class:`WarehouseOpenError` when the engine cannot open a free one.
    """
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ProgrammingError

    real = os.path.realpath(path)
    if real not in _opened_in_this_process:
        holder = holder_of(real)
        if holder is not None:
            raise WarehouseBusyError(real, holder)
    os.makedirs(real, exist_ok=True)
    try:
        client = clickhouse_connect.get_client(
            interface="chdb",
            path=real,
            database=database,
            settings=settings or {},
            chdb_options={**ENGINE_OPTIONS, **(engine_options or {})},
        )
    except ProgrammingError as ex:
        # The engine fails to start with the same terse error whether another process holds the
        # directory or something in it is damaged (a metadata file, say): it is "busy" only when
        # the lock is held; otherwise its own error is the news.
        holder = holder_of(real)
        if holder is not None:
            raise WarehouseBusyError(real, holder) from None
        raise WarehouseOpenError(real, str(ex)) from None
    _opened_in_this_process.add(real)
    return client


def open_engine_connection(path: str | os.PathLike[str], engine_options: dict[str, str] | None = None) -> Any:
    """A raw chDB connection on an engine this process already opened (open_embedded_client).

    Used for bulk inserts: ``INSERT ... SELECT * FROM Python(arrow_table)`` reads Arrow memory
    directly, several times faster than serialising the batch.
    """
    import chdb
    from clickhouse_connect.driver._chdbclient import build_connection_string

    real = os.path.realpath(path)
    if real not in _opened_in_this_process:
        raise RuntimeError(f"open the engine with open_embedded_client({real!r}) first")
    options = {**ENGINE_OPTIONS, **(engine_options or {})}
    return chdb.connect(build_connection_string(real, options))  # type: ignore[no-untyped-call]
