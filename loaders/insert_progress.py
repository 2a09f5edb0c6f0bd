"""The progress of a running whole-file insert (embedded), watched from a thread: the insert is
one statement, so the engine's own count of rows written is the progress of a long Parquet load."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from loaders.fast_path import EmbeddedEngine
from loaders.validation import quote

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 0.5  # how often a whole-file insert reports its progress


@contextlib.contextmanager
def watching_insert(
    engine: EmbeddedEngine, target: str, batch_id: str, on_rows_written: Callable[[int], None]
) -> Iterator[None]:
    """Report the rows the running insert whose SQL starts with ``target`` has written so far
    (landed or quarantined), every PROGRESS_SECONDS, from ``system.processes``. (``read_rows``
    counts each row once per view it passes through.)"""
    done = threading.Event()

    def watch() -> None:
        reported = 0
        while not done.wait(PROGRESS_SECONDS):
            try:
                rows = engine.connection().query(
                    "SELECT max(ProfileEvents['MergeTreeDataWriterRows']) FROM system.processes "
                    f"WHERE startsWith(query, {quote(target)})",
                    "TabSeparated",
                )
                written = int(rows.bytes() or 0)  # 0 once the insert has left the list
                if written > reported:
                    reported = written
                    on_rows_written(written)
            except Exception:  # progress is a courtesy: never fail or stop a load for it
                log.debug("progress of %s not available", batch_id, exc_info=True)

    watcher = threading.Thread(target=watch, name=f"progress-{batch_id}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
