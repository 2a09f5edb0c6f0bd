"""The embedded engine's fast path: it runs in this process, so inserts read Arrow memory directly
(no serialization), the checks are computed in the insert's own SELECT, and a whole Parquet file
is read by the engine itself (in parallel, without Python) when its columns allow it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loaders.parquet_input import check_parquet_schema
from loaders.schema import INPUT_COLUMN_NAMES
from loaders.sources import FileSource
from loaders.validation import Rules, quote

# inserts through the landing pipeline: parallel streams, and the views of a block in parallel
PIPELINE_SETTINGS = f"max_insert_threads = {os.cpu_count() or 1}, parallel_view_processing = 1"
# A whole file read by the engine. Memory: the Parquet reader's read-ahead is bounded (its default
# is 4 GB; a bounded one was no slower) and blocks stay at 256Ki rows through the views (squashing
# them to the default 1Mi rows took a large load far over its memory budget). Blocks are squashed
# to 128Ki rows (or 32 MiB) before they land: each block is one part of the ledger, and fewer,
# larger parts leave the engine less to merge while the load runs (smaller blocks were slower;
# benchmarks/README.md). Tiny row groups are squashed too, so a file never lands as thousands of
# tiny parts.
FILE_SETTINGS = (
    f"{PIPELINE_SETTINGS}, input_format_parquet_memory_high_watermark = {64 << 20}, "
    f"input_format_parquet_max_block_size = {256 << 10}, "
    f"min_insert_block_size_rows = {128 << 10}, min_insert_block_size_bytes = {32 << 20}"
)

# The embedded engine reads a Parquet file itself unless it has many row groups that are small
# on average: the engine validates each row group as its own block, a fixed cost that makes a
# file of many tiny groups load far slower than pyarrow, which reads many row groups per batch
# (benchmarks/README.md). A few small groups cost nothing worth avoiding.
ENGINE_MIN_ROW_GROUP_ROWS = 8192
ENGINE_SMALL_ROW_GROUPS = 64


# Characters that file() would take as a glob: such paths are read through pyarrow.
_GLOB_CHARACTERS = set("*?{}[]")
# Dates the engine's Date32 holds (it clamps others, so their text would differ from pyarrow's).
_EPOCH = dt.date(1970, 1, 1)
_DATE32_MIN, _DATE32_MAX = ((dt.date(y, m, d) - _EPOCH).days for y, m, d in ((1900, 1, 1), (2299, 12, 31)))


def engine_parquet_columns(source: FileSource, ignore_extra: bool = False) -> list[str] | None:
    """SQL over the engine's ``file(source.read_path, Parquet)`` giving the contract columns as
    the same text ``parquet_input.read_parquet`` + ``load.as_text`` give, or None when the file must be read
    through pyarrow.

    The engine reads the file itself (in parallel, without Python), for files (a .parquet.gz once
    decompressed) whose columns are strings, integers or date32 with dates the engine holds
    exactly, unless it has more than ENGINE_SMALL_ROW_GROUPS row groups of fewer than
    ENGINE_MIN_ROW_GROUP_ROWS rows on average. A string that is
    not UTF-8 stops the engine's read: pyarrow then reads the file and names the row.
    Checks the schema like read_parquet (FileError on a wrong one).
    """
    parquet = check_parquet_schema(source, ignore_extra)
    if source.gzipped or _GLOB_CHARACTERS & set(source.read_path):
        return None
    metadata = parquet.metadata
    groups = metadata.num_row_groups
    if groups > ENGINE_SMALL_ROW_GROUPS and metadata.num_rows < ENGINE_MIN_ROW_GROUP_ROWS * groups:
        return None
    schema = parquet.schema_arrow
    if "_row_number" in schema.names:
        return None  # an (ignored) extra column of that name would hide the engine's row numbers
    columns = []
    for name in INPUT_COLUMN_NAMES:
        arrow_type = schema.field(name).type
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            columns.append(f"if(throwIf(NOT isValidUTF8(`{name}`), 'not valid UTF-8') = 0, `{name}`, '')")
        elif pa.types.is_integer(arrow_type) or pa.types.is_date32(arrow_type):
            columns.append(f"toString(`{name}`)")
        else:
            return None  # timestamps, dictionaries, null columns: pyarrow's casts
        if pa.types.is_date32(arrow_type):
            try:
                days = parquet.read(columns=[name]).column(name).cast(pa.int32())
            except (pa.ArrowInvalid, OSError):
                return None  # read_parquet names the problem
            low, high = (v.as_py() for v in pc.min_max(days).values())
            if low is not None and (low < _DATE32_MIN or high > _DATE32_MAX):
                return None
    return columns


class EmbeddedEngine:
    """The embedded engine at ``path`` (this process's), with one raw connection per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connections = threading.local()

    def connection(self) -> Any:
        """This thread's raw chDB connection."""
        engine = getattr(self._connections, "connection", None)
        if engine is None:
            from engine.embedded import open_engine_connection

            engine = self._connections.connection = open_engine_connection(self.path)
        return engine

    def insert_checked_arrow(self, checked: str, rules: Rules, arrow_rows: pa.Table) -> None:
        """Rows in memory (every contract column as text, plus _row_number) into a pipeline's
        ``checked`` table (loaders.pipeline), validated by ``rules`` in the insert itself."""
        self._insert_checked(checked, rules, "Python(arrow_rows)", PIPELINE_SETTINGS, arrow_rows=arrow_rows)

    def insert_checked_parquet(self, checked: str, rules: Rules, path: str, columns: list[str]) -> None:
        """A whole Parquet file, read by the engine, into a pipeline's ``checked`` table: ``columns``
        from :func:`engine_parquet_columns`; ``_row_number`` is the engine's own row index."""
        text = ", ".join(f"{sql} AS `{name}`" for sql, name in zip(columns, INPUT_COLUMN_NAMES, strict=True))
        rows = (
            f"(SELECT {text}, toUInt64(assumeNotNull(_row_number)) + 1 AS _row_number "
            f"FROM file({quote(path)}, Parquet))"
        )
        self._insert_checked(checked, rules, rows, FILE_SETTINGS)

    def _insert_checked(
        self, checked: str, rules: Rules, rows: str, settings: str, arrow_rows: pa.Table | None = None
    ) -> None:
        """Rows (SQL giving the contract columns as text and _row_number) into ``checked``. chDB's
        ``Python(arrow_rows)`` table function reads the local variable ``arrow_rows`` by name."""
        names = ", ".join(f"`{name}`" for name in (*INPUT_COLUMN_NAMES, "_row_number", "failed_check"))
        self.connection().query(
            f"INSERT INTO {checked} ({names}) {rules.checked_rows(rows)} SETTINGS {settings}"
        )

    def insert_arrow(self, table: str, rows: pa.Table) -> None:
        """Rows in memory into ``table`` (a quoted, qualified name), as they are."""
        columns = ", ".join(f"`{name}`" for name in rows.column_names)
        # chDB's Python() table function reads the local variable `rows` by name
        self.connection().query(
            f"INSERT INTO {table} ({columns}) SELECT * FROM Python(rows) SETTINGS {PIPELINE_SETTINGS}"
        )
