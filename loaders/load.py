"""Load one source (a file or the generator) as one batch: read -> validate -> land -> commit."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from loaders.config import retained_from
from loaders.generator import GeneratorSpec, generate
from loaders.landing import Landing
from loaders.progress import LoadProgress
from loaders.readers import (
    BytesRead,
    FileError,
    FileSource,
    SourceBatch,
    check_content,
    checksum,
    parquet_rows,
    read_csv,
    read_jsonl,
    read_parquet,
)
from loaders.reference import Reference, load_reference
from loaders.validation import Rejected, validate


@dataclass(frozen=True)
class LoadOptions:
    delimiter: str = ","
    ignore_extra_columns: bool = False
    force: bool = False  # load even if this exact content was loaded before


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

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


SAMPLE_REJECTS = 20


class _Inserter:
    """Inserts landed rows on a background thread so reading/validating overlaps with the engine."""

    def __init__(self, landing: Landing, batch_id: str, source: str) -> None:
        self.landing, self.batch_id, self.source = landing, batch_id, source
        self.queue: queue.Queue[tuple[pa.Table, Rejected] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="scores-insert", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue
            rows, rejected = item
            try:
                self.landing.land(self.batch_id, rows)
                self.landing.quarantine(self.batch_id, self.source, rejected)
            except BaseException as ex:  # re-raised in the caller's thread by close()
                self.error = ex

    def put(self, rows: pa.Table, rejected: Rejected) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((rows, rejected))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _land_batches(
    landing: Landing,
    name: str,
    digest: str,
    size: int,
    batches: Callable[[], Iterator[SourceBatch]],
    reference: Reference,
    options: LoadOptions,
    on_progress: Callable[[int], None],
) -> LoadResult:
    started = time.perf_counter()
    if not options.force:
        previous = landing.previous_load(digest)
        if previous is not None:
            return LoadResult(
                name,
                "skipped",
                previous.batch_id,
                message=(
                    f"already loaded as batch {previous.batch_id} from {previous.source} "
                    f"at {previous.committed_at:%Y-%m-%d %H:%M:%S} ({previous.rows_landed} rows landed, "
                    f"{previous.rows_quarantined} quarantined); nothing changed. Use --force to load again."
                ),
            )
    aborted = landing.abort_unfinished(digest)
    batch_id = landing.begin(name, digest, size)
    result = LoadResult(name, "loaded", batch_id)
    if aborted:
        result.message = f"rolled back unfinished earlier load(s): {', '.join(aborted)}. "
    inserter = _Inserter(landing, batch_id, name)
    rows_read = 0
    try:
        try:
            for batch in batches():
                validated = validate(
                    batch.table,
                    batch.row_numbers,
                    reference,
                    retained_from=retained_from(landing.retention_years),
                )
                rejected = _merge(batch.rejected, validated.rejected)
                _sample(result, rejected)
                inserter.put(validated.landed, rejected)
                rows_read += batch.table.num_rows + len(batch.rejected)
                on_progress(rows_read)
        finally:
            inserter.close()
        duplicates = landing.quarantine_duplicates(batch_id, name)
        counts = landing.commit(batch_id, rows_read, message=result.message.strip())
    except BaseException as ex:
        message = str(ex) if isinstance(ex, FileError) else f"{type(ex).__name__}: {ex}"
        try:
            landing.fail(batch_id, message)
        finally:
            if not isinstance(ex, (FileError, KeyboardInterrupt)):
                raise
        if isinstance(ex, KeyboardInterrupt):
            raise
        return LoadResult(
            name, "failed", batch_id, rows_read, message=message, seconds=time.perf_counter() - started
        )
    result.rows_read, result.rows_landed, result.rows_quarantined = (
        counts.rows_read,
        counts.rows_landed,
        counts.rows_quarantined,
    )
    if duplicates:
        result.message += f"{duplicates} duplicate row(s) quarantined. "
    result.seconds = time.perf_counter() - started
    return result


def _merge(first: Rejected, second: Rejected) -> Rejected:
    if not len(first):
        return second
    if not len(second):
        return first
    return Rejected(
        first.row_numbers + second.row_numbers,
        first.columns + second.columns,
        first.reasons + second.reasons,
        first.raw_rows + second.raw_rows,
    )


def _sample(result: LoadResult, rejected: Rejected) -> None:
    room = SAMPLE_REJECTS - len(result.rejected_sample)
    if room > 0 and len(rejected):
        result.rejected_sample.extend(
            list(zip(rejected.row_numbers, rejected.columns, rejected.reasons, strict=True))[:room]
        )


def load_file(
    landing: Landing,
    source: FileSource,
    options: LoadOptions,
    progress: LoadProgress,
    reference: Reference | None = None,
) -> LoadResult:
    started = time.perf_counter()
    try:
        digest, size = checksum(source.path)
        check_content(source)
        total_rows = parquet_rows(source) if source.format == "parquet" else None
    except FileError as ex:
        return LoadResult(source.name, "failed", message=str(ex), seconds=time.perf_counter() - started)
    tally = BytesRead()
    if total_rows is not None:
        task = progress.start(source.path.name, total_rows, "rows")
    else:
        task = progress.start(source.path.name, size, "bytes")

    def batches() -> Iterator[SourceBatch]:
        if source.format == "csv":
            return read_csv(source, options.delimiter, options.ignore_extra_columns, tally)
        if source.format == "jsonl":
            return read_jsonl(source, options.ignore_extra_columns, tally)
        return read_parquet(source, options.ignore_extra_columns)

    def on_progress(rows: int) -> None:
        done = rows if total_rows is not None else tally.count
        progress.update(task, done, rows, time.perf_counter() - started)

    result = _land_batches(
        landing, source.name, digest, size, batches, reference or load_reference(), options, on_progress
    )
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
    task = progress.start(f"generate {spec.rows:,} rows", spec.rows, "rows")
    started = time.perf_counter()

    def batches() -> Iterator[SourceBatch]:
        next_row = 1
        for batch in generate(spec, batch_rows, reference):
            numbers = pa.array(range(next_row, next_row + batch.num_rows), pa.uint64())
            next_row += batch.num_rows
            yield SourceBatch(pa.Table.from_batches([batch]), numbers)

    def on_progress(rows: int) -> None:
        progress.update(task, rows, rows, time.perf_counter() - started)

    result = _land_batches(
        landing, spec.source, spec.checksum, 0, batches, reference, options or LoadOptions(), on_progress
    )
    progress.finish(task)
    return result
