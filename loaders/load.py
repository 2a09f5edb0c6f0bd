"""Load one source (a file or the generator) as one batch: read -> land (validated) -> commit."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from loaders.audit import LoadInProgress, PreviousLoad
from loaders.checksums import checksum
from loaders.config import Settings
from loaders.csv_input import read_csv
from loaders.fast_path import engine_parquet_columns
from loaders.faults import checkpoint
from loaders.file_errors import FileError, display_name
from loaders.generator import GeneratorSpec, generate
from loaders.jsonl_input import read_jsonl
from loaders.landing import Landing
from loaders.parquet_input import parquet_rows, read_parquet
from loaders.progress import LoadProgress
from loaders.reference import load_reference
from loaders.schema import INPUT_COLUMN_NAMES
from loaders.school_calendar import retained_from
from loaders.sniffing import check_content
from loaders.sources import FileSource, SourceBatch, file_state, opened
from loaders.streams import BytesRead, unpacked
from loaders.validation import Rejected, Rules


@dataclass(frozen=True)
class LoadOptions:
    delimiter: str = ","
    ignore_extra_columns: bool = False
    force: bool = False  # load even if this exact content was loaded before
    # a .parquet.gz may decompress to this many times its size (None: SCORES_GZIP_MAX_RATIO)
    gzip_max_ratio: int | None = None


@dataclass
class LoadResult:
    source: str
    status: str  # loaded | skipped | failed
    batch_id: str | None = None
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    message: str = ""
    rejected_sample: list[tuple[int, str, str]] = field(default_factory=list)
    # skipped: rows the earlier, committed load of the same content sent to the quarantine
    earlier_quarantined: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


SAMPLE_REJECTS = 20
# how long a load waits for another load of the same file that went first
CONCURRENT_WAIT_SECONDS = 1800


def as_text(batch: SourceBatch) -> pa.Table:
    """The batch's contract columns as text (what the landing pipeline takes) plus _row_number."""
    columns = []
    for name in INPUT_COLUMN_NAMES:
        column = batch.table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.date32())
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        columns.append(column)
    return pa.Table.from_arrays([*columns, batch.row_numbers], names=[*INPUT_COLUMN_NAMES, "_row_number"])


class _Inserter:
    """Inserts on background threads (one per core) so reading overlaps with the engine's work
    and the engine validates and writes several batches at once."""

    def __init__(self, landing: Landing, batch_id: str, source: str, workers: int | None = None) -> None:
        self.landing, self.batch_id, self.source = landing, batch_id, source
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.queue: queue.Queue[SourceBatch | None] = queue.Queue(maxsize=self.workers + 1)
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._run, name=f"scores-insert-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.error is not None:
                continue
            try:
                self.landing.pipeline.insert_rows(self.batch_id, as_text(batch))
                self.landing.quarantine.add_rejected(self.batch_id, self.source, batch.rejected)
                checkpoint("after_first_batch")
            except BaseException as ex:  # re-raised in the caller's thread
                self.error = ex

    def put(self, batch: SourceBatch) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(batch)

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.error is not None:
            raise self.error


def _skipped(name: str, previous: PreviousLoad) -> LoadResult:
    """A file whose content was committed before. Its quarantined rows are still in the
    quarantine: say so (and exit as a load with quarantined rows does) rather than 'nothing
    changed' alone, above all when every row was quarantined and nothing of the file landed."""
    when = f"{previous.committed_at:%Y-%m-%d %H:%M:%S}"
    done = f"already loaded as batch {previous.batch_id} from {previous.source} at {when}"
    quarantined = previous.rows_quarantined
    if quarantined and not previous.rows_landed:
        counts = f"every one of its {quarantined} rows was quarantined, none landed"
    else:
        counts = f"{previous.rows_landed} rows landed, {quarantined} quarantined"
    message = f"{done} ({counts}); nothing changed."
    if quarantined:
        message += f" Its quarantined rows are in the quarantine under batch {previous.batch_id}:"
        message += " fix them and load the corrected file."
    message += " Use --force to load again."
    return LoadResult(name, "skipped", previous.batch_id, message=message, earlier_quarantined=quarantined)


def _land(
    landing: Landing,
    name: str,
    digest: str,
    size: int,
    land_rows: Callable[[str], int],
    options: LoadOptions,
) -> LoadResult:
    """The batch lifecycle around ``land_rows(batch_id) -> rows read`` (see loaders.landing)."""
    started = time.perf_counter()
    if not options.force:
        previous = landing.audit.previous_load(digest)
        if previous is not None:
            return _skipped(name, previous)
    aborted = landing.abort_unfinished(digest)
    try:
        batch_id = landing.audit.begin(name, digest, size, force=options.force)
    except LoadInProgress as other:
        # another load of the same file went first: wait for it, load only if it did not commit
        waited = _after_concurrent_load(landing, name, other, options.force, started)
        return waited if waited is not None else _land(landing, name, digest, size, land_rows, options)
    checkpoint("after_begin")
    result = LoadResult(name, "loaded", batch_id)
    if aborted:
        result.message = f"rolled back unfinished earlier load(s): {', '.join(aborted)}. "
    rules = Rules(load_reference(), retained_from(landing.retention_years))
    try:
        landing.pipeline.open(batch_id, name, rules)
        try:
            rows_read = land_rows(batch_id)
        finally:
            landing.pipeline.close(batch_id)
        duplicates = landing.quarantine.duplicates(batch_id, name)
        conflicts = landing.quarantine.state_conflicts(batch_id, name)
        checkpoint("before_commit")
        counts = landing.audit.commit(batch_id, rows_read, message=result.message.strip())
        checkpoint("after_commit")
    except BaseException as ex:
        message = str(ex) if isinstance(ex, FileError) else f"{type(ex).__name__}: {ex}"
        landing.fail(batch_id, message)
        if not isinstance(ex, FileError):
            raise
        return LoadResult(name, "failed", batch_id, message=message, seconds=time.perf_counter() - started)
    result.rows_read, result.rows_landed, result.rows_quarantined = (
        counts.rows_read,
        counts.rows_landed,
        counts.rows_quarantined,
    )
    if duplicates:
        result.message += f"{duplicates} duplicate row(s) quarantined. "
    if conflicts:
        result.message += f"{conflicts} row(s) naming a district's other state quarantined. "
    if counts.rows_quarantined:
        result.rejected_sample = landing.tables.rejected_sample(batch_id, SAMPLE_REJECTS)
    result.seconds = time.perf_counter() - started
    return result


def _after_concurrent_load(
    landing: Landing, name: str, other: LoadInProgress, force: bool, started: float
) -> LoadResult | None:
    """The result once the load that went first is done (None: it did not commit, load again)."""
    status = (
        "committed" if other.committed else landing.audit.wait_for(other.batch_id, CONCURRENT_WAIT_SECONDS)
    )
    seconds = time.perf_counter() - started
    if status == "committed" and not force:
        message = f"loaded meanwhile by another load of the same file (batch {other.batch_id})"
        return LoadResult(name, "skipped", other.batch_id, message=message, seconds=seconds)
    if status == "started":
        message = (
            f"another load of the same file (batch {other.batch_id}) is still running after "
            f"{CONCURRENT_WAIT_SECONDS}s; nothing of this load was kept, run it again later"
        )
        return LoadResult(name, "failed", other.batch_id, message=message, seconds=seconds)
    return None


def _stream(
    landing: Landing,
    batch_id: str,
    name: str,
    batches: Iterator[SourceBatch],
    on_progress: Callable[[int], None],
) -> int:
    inserter = _Inserter(landing, batch_id, name)
    rows_read = 0
    try:
        for batch in batches:
            inserter.put(batch)
            rows_read += batch.table.num_rows + len(batch.rejected)
            on_progress(rows_read)
    finally:
        inserter.close()
    return rows_read


def load_file(
    landing: Landing, source: FileSource, options: LoadOptions, progress: LoadProgress
) -> LoadResult:
    """Load one file. It is opened once: the checksum, the content checks and every row read (the
    engine's too) are of that one file, which cannot be swapped meanwhile for another (or for a
    FIFO); a .parquet.gz is decompressed to a temporary file first, within its limit."""
    started = time.perf_counter()
    digest, size = "", 0
    with contextlib.ExitStack() as files:
        try:
            source, handle = files.enter_context(opened(source))
            state = file_state(handle)
            digest, size = checksum(source)
            check_content(source)
            source = files.enter_context(unpacked(source, options.gzip_max_ratio))
            total_rows = parquet_rows(source) if source.format == "parquet" else None
        except FileError as ex:
            # refused before its batch began (empty, binary, truncated, not what its name says):
            # the audit records the refusal too, so every load attempt leaves a record
            batch_id = landing.audit.record_refused(source.name, digest, size, str(ex))
            return LoadResult(
                source.name, "failed", batch_id, message=str(ex), seconds=time.perf_counter() - started
            )
        return _load_opened(landing, source, handle, state, digest, size, total_rows, options, progress)


def _load_opened(
    landing: Landing,
    source: FileSource,
    handle: BinaryIO,
    state: tuple[int, int, int],
    digest: str,
    size: int,
    total_rows: int | None,
    options: LoadOptions,
    progress: LoadProgress,
) -> LoadResult:
    started = time.perf_counter()
    tally = BytesRead()
    task = progress.start(
        display_name(source.path.name),
        total_rows if total_rows is not None else size,
        "rows" if total_rows is not None else "bytes",
    )

    def on_progress(rows: int) -> None:
        done = rows if total_rows is not None else tally.count
        progress.update(task, done, rows, time.perf_counter() - started)

    def land_rows(batch_id: str) -> int:
        rows = read_rows(batch_id)
        if file_state(handle) != state:
            # the checksum (idempotency) and the rows must be of the same content
            raise FileError(
                source.path, "the file changed while it was being loaded; load it again once it is complete"
            )
        return rows

    def read_rows(batch_id: str) -> int:
        if source.format == "parquet" and total_rows is not None and landing.pipeline.reads_files:
            # The embedded engine reads the file itself: in parallel and without Python's casts.
            columns = engine_parquet_columns(source, options.ignore_extra_columns)
            if columns is not None:
                try:
                    with landing.pipeline.watching_insert(batch_id, on_progress):
                        landing.pipeline.insert_parquet_file(
                            batch_id, os.path.abspath(source.read_path), columns
                        )
                except Exception:
                    # whatever the engine could not read, pyarrow reads or names (FileError)
                    landing.tables.delete_rows(batch_id)
                else:
                    checkpoint("after_first_batch")
                    on_progress(total_rows)
                    return total_rows
        # Other formats (and the server) stream through Arrow batches: memory stays bounded by
        # the batch size.
        if source.format == "csv":
            batches = read_csv(source, options.delimiter, options.ignore_extra_columns, tally)
        elif source.format == "jsonl":
            batches = read_jsonl(source, options.ignore_extra_columns, tally)
        else:
            batches = read_parquet(source, options.ignore_extra_columns)
        return _stream(landing, batch_id, source.name, batches, on_progress)

    result = _land(landing, source.name, digest, size, land_rows, options)
    progress.finish(task)
    return result


def load_generated(
    landing: Landing,
    spec: GeneratorSpec,
    progress: LoadProgress,
    options: LoadOptions | None = None,
    batch_rows: int = 500_000,
) -> LoadResult:
    reference = load_reference()
    total = spec.rows - spec.skip
    task = progress.start(f"generate {total:,} rows", total, "rows")
    started = time.perf_counter()

    def batches() -> Iterator[SourceBatch]:
        next_row = spec.skip + 1
        for batch in generate(spec, batch_rows, reference):
            numbers = pa.array(range(next_row, next_row + batch.num_rows), pa.uint64())
            next_row += batch.num_rows
            yield SourceBatch(pa.Table.from_batches([batch]), numbers, Rejected())

    def on_progress(rows: int) -> None:
        progress.update(task, rows, rows, time.perf_counter() - started)

    def land_rows(batch_id: str) -> int:
        return _stream(landing, batch_id, spec.source, batches(), on_progress)

    result = _land(landing, spec.source, spec.checksum, 0, land_rows, options or LoadOptions())
    progress.finish(task)
    return result


def open_landing(client: Client, settings: Settings) -> Landing:
    """The landing of the configured raw database, its tables created if they are missing."""
    landing = Landing(client, settings.raw_database, settings.retention_years, settings.engine_path)
    landing.ensure_schema()
    return landing


def load_files(
    landing: Landing, sources: list[FileSource], options: LoadOptions, progress: LoadProgress
) -> Iterator[LoadResult]:
    """Each file's result, in turn (a caller stopped midway keeps those committed before)."""
    for source in sources:
        try:
            yield load_file(landing, source, options, progress)
        except Exception as ex:
            # One file's unexpected failure (its batch rolled back) must not stop the
            # others, nor hide the files committed before it.
            first = (str(ex).strip().splitlines() or [""])[0][:300]
            message = f"{source.name}: not loaded, unexpected error ({type(ex).__name__}: {first})"
            yield LoadResult(source.name, "failed", message=message + "; nothing of it was kept")
