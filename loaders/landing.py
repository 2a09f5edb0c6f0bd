"""Landing batches in the raw tables: idempotent, crash-safe, nothing lost.

A load is a *batch*. Its life, recorded in ``load_audit`` (ReplacingMergeTree, read with FINAL):

1. ``started``: the audit record is written before any row.
2. Rows land in ``student_scores`` and rejected rows in ``quarantine``, tagged with the batch id.
   Landed rows are invisible to dbt: staging reads only rows of *committed* batches.
3. Duplicate keys inside the batch are moved to the quarantine (in SQL, at any scale).
4. ``committed``: the audit record gets ``committed_at``. This single-row insert is the commit
   marker; the counts are checked first (rows read = rows landed + rows quarantined).

A load killed at any moment leaves at most an uncommitted batch. The next load of the same source
(same sha256) finds it, deletes its rows, marks it ``aborted`` and loads again, so a re-run ends
with exactly the rows of one successful load. A source whose checksum is already committed is
skipped: loading the same file twice changes nothing. A bad file (unreadable, wrong header, ...)
rolls its batch back and records ``failed``.

Why a commit marker rather than insert deduplication tokens or ReplacingMergeTree: it makes a
whole file atomic (not one insert block), it works the same on chDB, a single server and a
cluster, and corrections stay expressible (a later batch with the same key wins in the fact table).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from loaders.config import DEFAULT_RETENTION_YEARS
from loaders.schema import (
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    INPUT_COLUMN_NAMES,
    QUARANTINE_TABLE,
    SCORES_TABLE,
    raw_table_ddl,
)
from loaders.validation import Rejected, Rules, quote

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 0.5  # how often a whole-file insert reports its progress

KEY = ("school_year", "test_id", "student_id")
# inserts through the landing pipeline: parallel streams, and the views of a block in parallel
PIPELINE_SETTINGS = f"max_insert_threads = {os.cpu_count() or 1}, parallel_view_processing = 1"
# A whole file read by the engine. Memory: the Parquet reader's read-ahead is bounded (its default
# is 4 GB; 64 MiB was no slower here) and blocks stay at 256Ki rows through the views
# (squashing them to the default 1Mi rows peaked at 3.3 GB on 10M rows). Blocks are squashed to
# 128Ki rows (or 32 MiB) before they land: each block is one part of the ledger, and fewer, larger
# parts leave the engine less to merge while the load runs (10M rows: 64Ki-row blocks 21.5 s,
# 128Ki 19 s; peak 1.7-2.0 GB). Tiny row groups are squashed too, so a file never lands as
# thousands of tiny parts.
FILE_SETTINGS = (
    f"{PIPELINE_SETTINGS}, input_format_parquet_memory_high_watermark = {64 << 20}, "
    f"input_format_parquet_max_block_size = {256 << 10}, "
    f"min_insert_block_size_rows = {128 << 10}, min_insert_block_size_bytes = {32 << 20}"
)


# A running load renews its batch's lease every HEARTBEAT_SECONDS; a batch whose lease is older
# than LEASE_SECONDS belongs to a load that died on another host (on this host, the process id tells
# at once). Only then may another load of the same file roll it back.
HEARTBEAT_SECONDS = 10
LEASE_SECONDS = 120


def _process_start(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


LOADER = f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _new_batch_id() -> str:
    # the start time makes ids readable; the order of loads is load_sequence, not the id
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:12]


def _alive(loader: str, fresh: bool) -> bool:
    """A batch's load is running: its lease is fresh and its process is not known to be gone."""
    return fresh and not _dead(loader)


def _dead(loader: str) -> bool:
    """Whether the loading process named ``loader`` (host:pid:start) is known to be gone: only a
    process of this host can be checked; elsewhere the lease decides."""
    host, _, rest = loader.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    return _process_start(int(pid_text)) != start


class LoadInProgress(Exception):  # noqa: N818 (a state, not an error)
    """Another load of the same source went first: ``batch_id`` runs it (or committed it)."""

    def __init__(self, batch_id: str, committed: bool) -> None:
        super().__init__(batch_id)
        self.batch_id, self.committed = batch_id, committed


@dataclass(frozen=True)
class PreviousLoad:
    batch_id: str
    source: str
    committed_at: dt.datetime
    rows_landed: int
    rows_quarantined: int


@dataclass(frozen=True)
class BatchCounts:
    rows_read: int
    rows_landed: int
    rows_quarantined: int


class Landing:
    """The raw tables of one warehouse."""

    def __init__(
        self,
        client: Client,
        database: str,
        retention_years: int = DEFAULT_RETENTION_YEARS,
        engine_path: str | None = None,
    ) -> None:
        """``engine_path``: the embedded engine's data directory when ``client`` is on this
        process's embedded engine (inserts then read Arrow memory directly), else None."""
        self.client = client
        self.database = database
        self.retention_years = retention_years
        self._engine_path = engine_path
        self._engines = threading.local()  # one raw connection per inserting thread
        self._rules: dict[str, Rules] = {}  # the validation rules of each open pipeline
        self._heartbeats: dict[str, float] = {}  # batch -> when its lease was last renewed

    def table(self, name: str) -> str:
        return f"`{self.database}`.`{name}`"

    def ensure_schema(self) -> None:
        for statement in raw_table_ddl(self.database, self.retention_years):
            self.client.command(statement)
        self._number_legacy_batches()

    def _number_legacy_batches(self) -> None:
        """Give batches committed before load_sequence existed their order: by batch id, which
        was the rule then (ids began with the load's start time)."""
        legacy = [
            r[0]
            for r in self.client.query(
                f"""
                SELECT batch_id FROM {self.table(AUDIT_TABLE)} FINAL
                WHERE status = 'committed' AND load_sequence = 0 ORDER BY batch_id
                """
            ).result_rows
        ]
        if not legacy:
            return
        self.client.command(
            f"""
            INSERT INTO {self.table(AUDIT_TABLE)} ({", ".join(AUDIT_COLUMNS)})
            SELECT batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                   rows_quarantined, status, message, started_at, finished_at, committed_at, now64(6),
                   (SELECT max(load_sequence) FROM {self.table(AUDIT_TABLE)} FINAL)
                       + indexOf({{ids:Array(String)}}, batch_id),
                   loader
            FROM {self.table(AUDIT_TABLE)} FINAL WHERE has({{ids:Array(String)}}, batch_id)
            """,
            parameters={"ids": legacy},
        )

    # -- batch lifecycle -------------------------------------------------------------------

    def previous_load(self, checksum: str) -> PreviousLoad | None:
        rows = self.client.query(
            f"""
            SELECT batch_id, source, committed_at, rows_landed, rows_quarantined
            FROM {self.table(AUDIT_TABLE)} FINAL
            WHERE source_checksum = {{checksum:String}} AND status = 'committed'
            ORDER BY committed_at LIMIT 1
            """,
            parameters={"checksum": checksum},
        ).result_rows
        return PreviousLoad(*rows[0]) if rows else None

    def _started(self, checksum: str) -> list[tuple[str, str, bool]]:
        """(batch id, loader, fresh) of this source's batches still ``started``, oldest first;
        fresh: its loader wrote a heartbeat within LEASE_SECONDS."""
        rows = self.client.query(
            f"""
            SELECT batch_id, loader, _updated_at >= now64(6) - toIntervalSecond({LEASE_SECONDS})
            FROM {self.table(AUDIT_TABLE)} FINAL
            WHERE source_checksum = {{checksum:String}} AND status = 'started'
            ORDER BY started_at, batch_id
            """,
            parameters={"checksum": checksum},
        ).result_rows
        return [(str(b), str(owner), bool(fresh)) for b, owner, fresh in rows]

    def abort_unfinished(self, checksum: str) -> list[str]:
        """Roll back batches of this source left ``started`` by a load that died: its process is
        gone (same host) or it stopped renewing its lease. A load still running is left alone."""
        aborted = []
        for batch_id, owner, fresh in self._started(checksum):
            if owner == LOADER or _alive(owner, fresh):
                continue
            self.close_pipeline(batch_id)
            self._delete_rows(batch_id)
            self._set_status(batch_id, "aborted", "rolled back: the load did not finish")
            aborted.append(batch_id)
        return aborted

    def begin(self, source: str, checksum: str, source_bytes: int, force: bool = False) -> str:
        """Start a batch. Raises :class:`LoadInProgress` if another live load of the same source
        began first (or, without ``force``, committed meanwhile): a file commits at most once."""
        batch_id = _new_batch_id()
        self.client.command(
            f"""
            INSERT INTO {self.table(AUDIT_TABLE)}
                (batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                 rows_quarantined, status, message, started_at, _updated_at, loader)
            -- SELECT, not VALUES: a ClickHouse endpoint may refuse expressions inside VALUES data
            SELECT {{b:String}}, {{s:String}}, {{c:String}}, {{n:UInt64}}, 0, 0, 0, 'started', '',
                   now64(6), now64(6), {{o:String}}
            """,
            parameters={"b": batch_id, "s": source, "c": checksum, "n": source_bytes, "o": LOADER},
        )
        self._heartbeats[batch_id] = time.monotonic()
        # every concurrent load of the source sees the same set of batches once its own row is
        # in: the oldest live one goes ahead, the others step back
        live = [b for b, owner, fresh in self._started(checksum) if b == batch_id or _alive(owner, fresh)]
        winner = live[0] if live else batch_id
        committed = None if force else self.previous_load(checksum)
        if winner != batch_id or committed is not None:
            other = committed.batch_id if committed is not None else winner
            self._set_status(batch_id, "aborted", f"another load of the same file went first (batch {other})")
            self._heartbeats.pop(batch_id, None)
            raise LoadInProgress(other, committed is not None)
        return batch_id

    def record_refused(self, source: str, checksum: str, source_bytes: int, message: str) -> str:
        """An audit record (status failed, no rows) for a file refused before its batch began."""
        batch_id = _new_batch_id()
        self.client.command(
            f"""
            INSERT INTO {self.table(AUDIT_TABLE)}
                (batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                 rows_quarantined, status, message, started_at, finished_at, _updated_at, loader)
            SELECT {{b:String}}, {{s:String}}, {{c:String}}, {{n:UInt64}}, 0, 0, 0, 'failed', {{m:String}},
                   now64(6), now64(6), now64(6), {{o:String}}
            """,
            parameters={
                "b": batch_id,
                "s": source,
                "c": checksum,
                "n": source_bytes,
                "m": message[:2000],
                "o": LOADER,
            },
        )
        return batch_id

    def heartbeat(self, batch_id: str) -> None:
        """Renew the batch's lease (at most every HEARTBEAT_SECONDS): the load is alive."""
        last = self._heartbeats.get(batch_id)
        if last is None or time.monotonic() - last < HEARTBEAT_SECONDS:
            return
        self._heartbeats[batch_id] = time.monotonic()
        self._set_status(batch_id, "started", "")

    def wait_for(self, batch_id: str, timeout: float) -> str:
        """Wait until a batch is no longer ``started`` (or its load died); its final status."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.client.query(
                f"""
                SELECT status, loader, _updated_at >= now64(6) - toIntervalSecond({LEASE_SECONDS})
                FROM {self.table(AUDIT_TABLE)} FINAL WHERE batch_id = {{b:String}}
                """,
                parameters={"b": batch_id},
            ).result_rows
            if not rows:
                return "missing"
            status, owner, fresh = str(rows[0][0]), str(rows[0][1]), bool(rows[0][2])
            if status != "started":
                return status
            if not _alive(owner, fresh):
                return "dead"
            if time.monotonic() > deadline:
                return "started"
            time.sleep(0.5)

    # -- the landing pipeline of a batch -----------------------------------------------------
    #
    # Rows enter as text. `_landing_<batch>_checked` (ENGINE = Null: it stores nothing) receives
    # each row with the number of the first validation check it fails (loaders.validation); two
    # materialized views route every inserted block: valid rows, typed, to student_scores;
    # rejected rows to the quarantine. One pass, in the engine.
    # The embedded engine inserts into `_checked` directly, the checks computed in the insert's own
    # SELECT. A server client can only send rows (INSERT ... FORMAT Arrow): they go to
    # `_landing_<batch>`, another Null table, whose view `_check` computes the same checks. (The
    # extra view and block copy cost the embedded 10M-row load about 1.5 s of 16.)

    def _landing(self, batch_id: str) -> str:
        return f"_landing_{batch_id.replace('-', '_')}"

    def _checked(self, batch_id: str) -> str:
        """The pipeline's table of checked rows, the one its routing views read."""
        return self.table(self._landing(batch_id) + "_checked")

    def open_pipeline(self, batch_id: str, source: str, rules: Rules) -> None:
        landing = self._landing(batch_id)
        self.close_pipeline(batch_id)
        self._rules[batch_id] = rules
        row_number = "`_row_number` UInt64"
        self.client.command(
            f"CREATE TABLE {self.table(landing)} "
            f"({', '.join(f'`{name}` Nullable(String)' for name in INPUT_COLUMN_NAMES)}, {row_number}) "
            "ENGINE = Null"
        )
        checked = self._checked(batch_id)
        self.client.command(
            f"CREATE TABLE {checked} "
            f"({', '.join(f'`{name}` String' for name in INPUT_COLUMN_NAMES)}, {row_number}, "
            "`failed_check` UInt8) ENGINE = Null"
        )
        # 1. rows sent by a client: validated once, the number of the first failed check
        self.client.command(
            f"CREATE MATERIALIZED VIEW {self.table(landing + '_check')} TO {checked} "
            f"AS {rules.checked_rows(self.table(landing))}"
        )
        # 2. route: valid rows, typed, to the scores; the others to the quarantine
        typed = ", ".join(f"{sql} AS `{name}`" for name, sql in rules.typed_columns())
        self.client.command(
            f"""
            CREATE MATERIALIZED VIEW {self.table(landing + "_valid")} TO {self.table(SCORES_TABLE)} AS
            SELECT {typed}, {quote(batch_id)} AS _batch_id, _row_number
            FROM {checked} WHERE failed_check = 0
            """
        )
        column, reason = rules.rejection()
        self.client.command(
            f"""
            CREATE MATERIALIZED VIEW {self.table(landing + "_rejected")} TO {self.table(QUARANTINE_TABLE)} AS
            SELECT {quote(batch_id)} AS _batch_id, {quote(source)} AS source, _row_number AS row_number,
                   {column} AS column, {reason} AS reason, {rules.raw_row()} AS raw_row
            FROM (SELECT {rules.trimmed_projection()} FROM {checked} WHERE failed_check != 0)
            """
        )

    def close_pipeline(self, batch_id: str) -> None:
        landing = self._landing(batch_id)
        for view in (landing + "_check", landing + "_valid", landing + "_rejected"):
            self.client.command(f"DROP VIEW IF EXISTS {self.table(view)}")
        for table in (landing, landing + "_checked"):
            self.client.command(f"DROP TABLE IF EXISTS {self.table(table)}")
        self._rules.pop(batch_id, None)

    def insert_rows(self, batch_id: str, rows: pa.Table) -> None:
        """Insert rows (every contract column as text, plus _row_number) into the pipeline."""
        if not rows.num_rows:
            return
        if self._engine_path is None:
            self.heartbeat(batch_id)  # other processes may load through the same server
            self.client.insert_arrow(self._landing(batch_id), rows, database=self.database)
            return
        self._insert_checked(batch_id, "Python(arrow_rows)", PIPELINE_SETTINGS, arrow_rows=rows)

    @property
    def reads_files(self) -> bool:
        """The engine runs in this process, so it can read the loader's files itself."""
        return self._engine_path is not None

    def insert_parquet_file(self, batch_id: str, path: str, columns: list[str]) -> None:
        """Insert a whole Parquet file into the pipeline, read by the engine (embedded only).

        ``columns`` are SQL over ``file(path, Parquet)`` giving the contract columns as text
        (readers.engine_parquet_columns); ``_row_number`` is the engine's own row index.
        """
        if not self.reads_files:
            raise RuntimeError("only the embedded engine reads the loader's files")
        text = ", ".join(f"{sql} AS `{name}`" for sql, name in zip(columns, INPUT_COLUMN_NAMES, strict=True))
        rows = (
            f"(SELECT {text}, toUInt64(assumeNotNull(_row_number)) + 1 AS _row_number "
            f"FROM file({quote(path)}, Parquet))"
        )
        self._insert_checked(batch_id, rows, FILE_SETTINGS)

    @contextlib.contextmanager
    def watching_insert(self, batch_id: str, on_rows_written: Callable[[int], None]) -> Iterator[None]:
        """Report the rows the batch's running insert (embedded) has written so far, landed or
        quarantined, every PROGRESS_SECONDS, from ``system.processes``: a whole-file insert is
        one statement, so this is the progress of a long Parquet load. (``read_rows`` counts each
        row once per view it passes through.)"""
        if not self.reads_files:
            yield
            return
        done = threading.Event()
        target = f"INSERT INTO {self._checked(batch_id)}"

        def watch() -> None:
            reported = 0
            while not done.wait(PROGRESS_SECONDS):
                try:
                    rows = self._engine().query(
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

    def _insert_checked(
        self, batch_id: str, rows: str, settings: str, arrow_rows: pa.Table | None = None
    ) -> None:
        """Embedded: rows (SQL giving the contract columns as text and _row_number) into the
        pipeline's `_checked` table, validated in the insert itself. chDB's ``Python(arrow_rows)``
        table function reads the local variable ``arrow_rows`` by name."""
        names = ", ".join(f"`{name}`" for name in (*INPUT_COLUMN_NAMES, "_row_number", "failed_check"))
        self._engine().query(
            f"INSERT INTO {self._checked(batch_id)} ({names}) "
            f"{self._rules[batch_id].checked_rows(rows)} SETTINGS {settings}"
        )

    def discard_rows(self, batch_id: str) -> None:
        """Delete what a batch landed so far (its pipeline stays open)."""
        self._delete_rows(batch_id)

    def quarantine(self, batch_id: str, source: str, rejected: Rejected) -> None:
        """Rows rejected before validation (malformed lines): straight to the quarantine."""
        if not len(rejected):
            return
        n = len(rejected)
        table = pa.table(
            {
                "_batch_id": pa.array([batch_id] * n, pa.string()),
                "source": pa.array([source] * n, pa.string()),
                "row_number": pa.array(rejected.row_numbers, pa.uint64()),
                "column": pa.array([""] * n, pa.string()),
                "reason": pa.array(rejected.reasons, pa.string()),
                "raw_row": pa.array(rejected.raw_rows, pa.string()),
            }
        )
        self._insert_arrow(QUARANTINE_TABLE, table)

    def _insert_arrow(self, table: str, rows: pa.Table) -> None:
        if self._engine_path is None:
            self.client.insert_arrow(table, rows, database=self.database)
            return
        engine = self._engine()
        columns = ", ".join(f"`{name}`" for name in rows.column_names)
        # chDB's Python() table function reads the local variable `rows` by name
        engine.query(
            f"INSERT INTO {self.table(table)} ({columns}) SELECT * FROM Python(rows) "
            f"SETTINGS {PIPELINE_SETTINGS}"
        )

    def _engine(self) -> Any:
        """This thread's raw chDB connection (embedded only)."""
        engine = getattr(self._engines, "connection", None)
        if engine is None:
            from engine.embedded import open_engine_connection

            assert self._engine_path is not None
            engine = self._engines.connection = open_engine_connection(self._engine_path)
        return engine

    def quarantine_duplicates(self, batch_id: str, source: str) -> int:
        """Move rows whose key repeats an earlier row of the same batch to the quarantine.

        The first row of a key stays; later rows go to the quarantine naming the first row. A hash
        pass finds candidate keys first, so memory stays small at any batch size.
        """
        scores, key = self.table(SCORES_TABLE), ", ".join(KEY)
        values = ", ".join(INPUT_COLUMN_NAMES)
        params = {"b": batch_id, "s": source}
        duplicated_keys = f"""
            SELECT {key}, min(_row_number) AS first_row, uniqExact(cityHash64({values})) = 1 AS exact
            FROM {scores}
            WHERE _batch_id = {{b:String}}
              AND cityHash64({key}) IN (
                  SELECT cityHash64({key}) AS h FROM {scores} WHERE _batch_id = {{b:String}}
                  GROUP BY h HAVING count() > 1)
            GROUP BY {key} HAVING count() > 1
        """
        before = self.counts(batch_id)[1]
        self.client.command(
            f"""
            INSERT INTO {self.table(QUARANTINE_TABLE)}
                (_batch_id, source, row_number, column, reason, raw_row)
            SELECT {{b:String}}, {{s:String}}, s._row_number, 'student_id',
                   concat(if(d.exact, 'duplicate of row ',
                             'conflicting duplicate: same school_year, test_id and student_id as row '),
                          toString(d.first_row)),
                   formatRowNoNewline('JSONEachRow', {", ".join(f"s.{c}" for c in INPUT_COLUMN_NAMES)})
            FROM {scores} AS s INNER JOIN ({duplicated_keys}) AS d USING ({key})
            WHERE s._batch_id = {{b:String}} AND s._row_number != d.first_row
            """,
            parameters=params,
        )
        return self._moved_to_quarantine(batch_id, before)

    def quarantine_state_conflicts(self, batch_id: str, source: str) -> int:
        """Move rows that put a district in another state to the quarantine.

        A district is in one state: the marts group districts by state, and a district reported
        under two states would be counted twice. The state known from committed loads wins; a
        district new to the warehouse takes the state of its first row in this batch.
        """
        scores, audit = self.table(SCORES_TABLE), self.table(AUDIT_TABLE)
        params = {"b": batch_id, "s": source}
        before = self.counts(batch_id)[1]
        self.client.command(
            f"""
            INSERT INTO {self.table(QUARANTINE_TABLE)}
                (_batch_id, source, row_number, column, reason, raw_row)
            WITH
                batch_districts AS (
                    SELECT district_id, argMin(state_id, _row_number) AS first_state,
                           argMin(_row_number, _row_number) AS first_row
                    FROM {scores} WHERE _batch_id = {{b:String}} GROUP BY district_id
                ),
                known AS (
                    SELECT district_id, any(state_id) AS state
                    FROM {scores}
                    WHERE _batch_id IN (SELECT batch_id FROM {audit} FINAL WHERE status = 'committed')
                      AND district_id IN (SELECT district_id FROM batch_districts)
                    GROUP BY district_id
                )
            SELECT {{b:String}}, {{s:String}}, r._row_number, 'state_id',
                   if(k.district_id != '',
                      concat('district ', r.district_id, ' is in state ', k.state,
                             ' (earlier loads); this row says ', r.state_id),
                      concat('district ', r.district_id, ' is in state ', d.first_state, ' (row ',
                             toString(d.first_row), ' of this file); this row says ', r.state_id)),
                   formatRowNoNewline('JSONEachRow', {", ".join(f"r.{c}" for c in INPUT_COLUMN_NAMES)})
            FROM {scores} AS r
            INNER JOIN batch_districts AS d ON r.district_id = d.district_id
            LEFT JOIN known AS k ON r.district_id = k.district_id
            WHERE r._batch_id = {{b:String}}
              AND r.state_id != if(k.district_id != '', k.state, d.first_state)
            SETTINGS join_use_nulls = 0
            """,
            parameters=params,
        )
        return self._moved_to_quarantine(batch_id, before)

    def _moved_to_quarantine(self, batch_id: str, quarantined_before: int) -> int:
        """Delete from the landed rows those just copied to the quarantine; how many there were.
        Rejected rows never landed, so every quarantined row number of the batch can go."""
        moved = self.counts(batch_id)[1] - quarantined_before
        if moved:
            self.client.command(
                f"""
                DELETE FROM {self.table(SCORES_TABLE)} WHERE _batch_id = {{b:String}} AND _row_number IN (
                    SELECT row_number FROM {self.table(QUARANTINE_TABLE)} WHERE _batch_id = {{b:String}})
                """,
                parameters={"b": batch_id},
            )
        return moved

    def rejected_sample(self, batch_id: str, limit: int) -> list[tuple[int, str, str]]:
        rows = self.client.query(
            f"""
            SELECT row_number, column, reason FROM {self.table(QUARANTINE_TABLE)}
            WHERE _batch_id = {{b:String}} ORDER BY row_number LIMIT {int(limit)}
            """,
            parameters={"b": batch_id},
        ).result_rows
        return [(int(r), str(c), str(m)) for r, c, m in rows]

    def counts(self, batch_id: str) -> tuple[int, int]:
        landed, quarantined = self.client.query(
            f"""
            SELECT (SELECT count() FROM {self.table(SCORES_TABLE)} WHERE _batch_id = {{b:String}}),
                   (SELECT count() FROM {self.table(QUARANTINE_TABLE)} WHERE _batch_id = {{b:String}})
            """,
            parameters={"b": batch_id},
        ).result_rows[0]
        return int(landed), int(quarantined)

    def commit(self, batch_id: str, rows_read: int, message: str = "") -> BatchCounts:
        landed, quarantined = self.counts(batch_id)
        if landed + quarantined != rows_read:
            raise RuntimeError(
                f"batch {batch_id}: read {rows_read} rows but landed {landed} and quarantined {quarantined}"
            )
        # load_sequence: one more than any committed batch, read in the same statement, so a load
        # that commits after another always ranks after it (latest load wins, by construction).
        # Two loads committing at the same instant can read the same maximum: the one with the
        # larger batch id then commits again, after the other.
        for _ in range(100):
            self.client.command(
                f"""
                INSERT INTO {self.table(AUDIT_TABLE)} ({", ".join(AUDIT_COLUMNS)})
                SELECT batch_id, source, source_checksum, source_bytes,
                       {{r:UInt64}}, {{l:UInt64}}, {{q:UInt64}}, 'committed', {{m:String}},
                       started_at, now64(6), now64(6), now64(6),
                       (SELECT max(load_sequence) FROM {self.table(AUDIT_TABLE)} FINAL) + 1, loader
                FROM {self.table(AUDIT_TABLE)} FINAL WHERE batch_id = {{b:String}}
                """,
                parameters={"b": batch_id, "r": rows_read, "l": landed, "q": quarantined, "m": message},
            )
            clash = self.client.query(
                f"""
                SELECT count() FROM {self.table(AUDIT_TABLE)} FINAL
                WHERE status = 'committed' AND batch_id < {{b:String}} AND load_sequence = (
                    SELECT load_sequence FROM {self.table(AUDIT_TABLE)} FINAL WHERE batch_id = {{b:String}}
                )
                """,
                parameters={"b": batch_id},
            ).result_rows[0][0]
            if not clash:
                break
        self._heartbeats.pop(batch_id, None)
        return BatchCounts(rows_read, landed, quarantined)

    def fail(self, batch_id: str, message: str) -> None:
        """Roll a batch back after an error: no row of it stays."""
        self.close_pipeline(batch_id)
        self._delete_rows(batch_id)
        self._set_status(batch_id, "failed", message)

    def _delete_rows(self, batch_id: str) -> None:
        for table in (SCORES_TABLE, QUARANTINE_TABLE):
            self.client.command(
                f"DELETE FROM {self.table(table)} WHERE _batch_id = {{b:String}}",
                parameters={"b": batch_id},
            )

    def _set_status(self, batch_id: str, status: str, message: str) -> None:
        if status != "started":
            self._heartbeats.pop(batch_id, None)
        self.client.command(
            f"""
            INSERT INTO {self.table(AUDIT_TABLE)} ({", ".join(AUDIT_COLUMNS)})
            SELECT batch_id, source, source_checksum, source_bytes, rows_read, rows_landed,
                   rows_quarantined, {{st:String}}, if({{st:String}} = 'started', message, {{m:String}}),
                   started_at, if({{st:String}} = 'started', NULL, now64(6)), NULL, now64(6), 0, loader
            FROM {self.table(AUDIT_TABLE)} FINAL WHERE batch_id = {{b:String}}
            """,
            parameters={"b": batch_id, "st": status, "m": message[:2000]},
        )
