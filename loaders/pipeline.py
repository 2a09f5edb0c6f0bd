"""The landing pipeline of a batch: the tables and views that validate its rows and route them.

Rows enter as text. `_landing_<batch>_checked` (ENGINE = Null: it stores nothing) receives
each row with the number of the first validation check it fails (loaders.validation); two
materialized views route every inserted block: valid rows, typed, to student_scores;
rejected rows to the quarantine. One pass, in the engine.
The embedded engine inserts into `_checked` directly, the checks computed in the insert's own
SELECT (loaders.fast_path). A server client can only send rows (INSERT ... FORMAT Arrow): they go
to `_landing_<batch>`, another Null table, whose view `_check` computes the same checks. (The
extra view and block copy are why the embedded engine skips them; benchmarks/README.md.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pyarrow as pa

from loaders.audit import LoadAudit
from loaders.fast_path import EmbeddedEngine
from loaders.insert_progress import watching_insert
from loaders.raw_tables import RawTables
from loaders.schema import INPUT_COLUMN_NAMES, QUARANTINE_TABLE, SCORES_TABLE
from loaders.validation import Rules, quote


class Pipeline:
    """The landing pipelines of one warehouse's batches, and the inserts into them."""

    def __init__(self, tables: RawTables, audit: LoadAudit, engine: EmbeddedEngine | None) -> None:
        """``engine``: this process's embedded engine when the client is on it (inserts then read
        Arrow memory directly), else None."""
        self.tables = tables
        self.client = tables.client
        self._audit = audit
        self._engine = engine
        self._rules: dict[str, Rules] = {}  # the validation rules of each open pipeline

    def _landing(self, batch_id: str) -> str:
        return f"_landing_{batch_id.replace('-', '_')}"

    def _checked(self, batch_id: str) -> str:
        """The pipeline's table of checked rows, the one its routing views read."""
        return self.tables.table(self._landing(batch_id) + "_checked")

    def open(self, batch_id: str, source: str, rules: Rules) -> None:
        landing, table = self._landing(batch_id), self.tables.table
        self.close(batch_id)
        self._rules[batch_id] = rules
        row_number = "`_row_number` UInt64"
        self.client.command(
            f"CREATE TABLE {table(landing)} "
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
            f"CREATE MATERIALIZED VIEW {table(landing + '_check')} TO {checked} "
            f"AS {rules.checked_rows(table(landing))}"
        )
        # 2. route: valid rows, typed, to the scores; the others to the quarantine
        typed = ", ".join(f"{sql} AS `{name}`" for name, sql in rules.typed_columns())
        self.client.command(
            f"""
            CREATE MATERIALIZED VIEW {table(landing + "_valid")} TO {table(SCORES_TABLE)} AS
            SELECT {typed}, {quote(batch_id)} AS _batch_id, _row_number
            FROM {checked} WHERE failed_check = 0
            """
        )
        column, reason = rules.rejection()
        self.client.command(
            f"""
            CREATE MATERIALIZED VIEW {table(landing + "_rejected")} TO {table(QUARANTINE_TABLE)} AS
            SELECT {quote(batch_id)} AS _batch_id, {quote(source)} AS source, _row_number AS row_number,
                   {column} AS column, {reason} AS reason, {rules.raw_row()} AS raw_row
            FROM (SELECT {rules.trimmed_projection()} FROM {checked} WHERE failed_check != 0)
            """
        )

    def close(self, batch_id: str) -> None:
        landing = self._landing(batch_id)
        for view in (landing + "_check", landing + "_valid", landing + "_rejected"):
            self.client.command(f"DROP VIEW IF EXISTS {self.tables.table(view)}")
        for table in (landing, landing + "_checked"):
            self.client.command(f"DROP TABLE IF EXISTS {self.tables.table(table)}")
        self._rules.pop(batch_id, None)

    def insert_rows(self, batch_id: str, rows: pa.Table) -> None:
        """Insert rows (every contract column as text, plus _row_number) into the pipeline."""
        if not rows.num_rows:
            return
        if self._engine is None:
            self._audit.heartbeat(batch_id)  # other processes may load through the same server
            self.client.insert_arrow(self._landing(batch_id), rows, database=self.tables.database)
            return
        self._engine.insert_checked_arrow(self._checked(batch_id), self._rules[batch_id], rows)

    @property
    def reads_files(self) -> bool:
        """The engine runs in this process, so it can read the loader's files itself."""
        return self._engine is not None

    def insert_parquet_file(self, batch_id: str, path: str, columns: list[str]) -> None:
        """Insert a whole Parquet file into the pipeline, read by the engine (embedded only).

        ``columns`` are SQL over ``file(path, Parquet)`` giving the contract columns as text
        (fast_path.engine_parquet_columns); ``_row_number`` is the engine's own row index.
        """
        if self._engine is None:
            raise RuntimeError("only the embedded engine reads the loader's files")
        self._engine.insert_checked_parquet(self._checked(batch_id), self._rules[batch_id], path, columns)

    @contextlib.contextmanager
    def watching_insert(self, batch_id: str, on_rows_written: Callable[[int], None]) -> Iterator[None]:
        """Report the rows the batch's running insert (embedded) has written so far, landed or
        quarantined (loaders.insert_progress); on a server, nothing."""
        if self._engine is None:
            yield
            return
        with watching_insert(
            self._engine, f"INSERT INTO {self._checked(batch_id)}", batch_id, on_rows_written
        ):
            yield
