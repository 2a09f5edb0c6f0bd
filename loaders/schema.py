"""The landing contract: input columns, raw tables and their DDL.

One row = one student's result on one test. Input files (CSV, Parquet, JSON lines) carry exactly
the columns in :data:`INPUT_COLUMNS`; the loaders add the batch columns (``_batch_id``,
``_row_number``, ``_loaded_at``) when they land a row in ``<raw db>.student_scores``.

Rows that fail validation go to ``<raw db>.quarantine``; every load writes ``<raw db>.load_audit``.
A row is visible to dbt only once its batch is committed in the audit table (see loaders.landing).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from loaders import school_calendar
from loaders.config import DEFAULT_RETENTION_YEARS


@dataclass(frozen=True)
class Column:
    name: str
    clickhouse_type: str
    arrow_type: pa.DataType
    required: bool  # a value must be present (non-empty) on every row
    description: str
    codec: str | None = None  # compression in the raw table (default: the engine's, LZ4)


INPUT_COLUMNS: tuple[Column, ...] = (
    Column("student_id", "String", pa.string(), True, "Student identifier"),
    Column("teacher_id", "String", pa.string(), True, "Teacher (classroom) identifier"),
    Column("teacher_name", "String", pa.string(), False, "Teacher display name"),
    Column("school_id", "String", pa.string(), True, "School identifier"),
    Column("school_name", "String", pa.string(), False, "School display name"),
    Column("district_id", "String", pa.string(), True, "District identifier"),
    Column("district_name", "String", pa.string(), False, "District display name"),
    Column("state_id", "LowCardinality(String)", pa.string(), True, "Two-letter state code"),
    Column("subject", "LowCardinality(String)", pa.string(), True, "Subject code (seeds/subjects.csv)"),
    Column("grade", "UInt8", pa.uint8(), True, "Grade level (seeds/grade_levels.csv)"),
    Column("test_id", "LowCardinality(String)", pa.string(), True, "Test code such as ELA-Q1"),
    Column("school_year", "UInt16", pa.uint16(), True, "School year, named by the year it ends in"),
    Column("test_date", "Date", pa.date32(), True, "Date the test was taken"),
    Column("overall_score", "UInt8", pa.uint8(), True, "Overall score, integer 0 to 100"),
    Column("overall_performance_level", "UInt8", pa.uint8(), True, "Reported performance level 1-4"),
    # JSON text, most of a row's bytes: ZSTD stores it in a third of LZ4's space (same as the
    # per-score dbt models, macros/column_codecs.sql)
    Column(
        "dimension_scores", "String", pa.string(), False, 'JSON object {"Reading": 85, ...}', codec="ZSTD(1)"
    ),
)

INPUT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in INPUT_COLUMNS)
INPUT_SCHEMA = pa.schema([pa.field(c.name, c.arrow_type, nullable=not c.required) for c in INPUT_COLUMNS])

# columns added by the loader to every landed row
BATCH_COLUMNS: tuple[Column, ...] = (
    Column("_batch_id", "LowCardinality(String)", pa.string(), True, "Load batch (load_audit.batch_id)"),
    Column(
        "_row_number",
        "UInt64",
        pa.uint64(),
        True,
        "Row number in the source, 1 = first data row",
        codec="ZSTD(1)",
    ),
)
LANDED_SCHEMA = pa.schema(
    [pa.field(c.name, c.arrow_type, nullable=False) for c in (*INPUT_COLUMNS, *BATCH_COLUMNS)]
)

SCORES_TABLE = "student_scores"
QUARANTINE_TABLE = "quarantine"
AUDIT_TABLE = "load_audit"


def _column_ddl(columns: tuple[Column, ...]) -> str:
    return ",\n    ".join(
        f"`{c.name}` {c.clickhouse_type}{f' CODEC({c.codec})' if c.codec else ''} COMMENT '{c.description}'"
        for c in columns
    )


# load_audit columns added after the first release: created with the table, and added to an
# existing one by raw_table_ddl's ALTER statements
AUDIT_ADDED = (
    (
        "load_sequence",
        "UInt64 DEFAULT 0 COMMENT 'Commit order, 1, 2, ...: later loads win (0: not committed)'",
    ),
    (
        "loader",
        "String DEFAULT '' COMMENT 'Process loading the batch (host:pid:start): a live load or a dead one'",
    ),
)
AUDIT_ADDED_COLUMNS = ",\n    ".join(f"`{name}` {spec}" for name, spec in AUDIT_ADDED)
AUDIT_COLUMNS = (
    "batch_id",
    "source",
    "source_checksum",
    "source_bytes",
    "rows_read",
    "rows_landed",
    "rows_quarantined",
    "status",
    "message",
    "started_at",
    "finished_at",
    "committed_at",
    "_updated_at",
    *(name for name, _ in AUDIT_ADDED),
)


def raw_table_ddl(database: str, retention_years: int = DEFAULT_RETENTION_YEARS) -> list[str]:
    """CREATE statements for the raw tables (idempotent). School year Y leaves the landed rows on
    1 July of Y + retention_years, like every dbt model (macros/retention.sql).

    The score ledger is not partitioned: an input file mixes school years, and partitioning by
    year split every insert block into one small part per year, which the engine then spent as
    much CPU merging as the load itself (benchmarks/README.md, "Loading and building"). The sort
    key starts with the school year, so a year's rows are read alone, and retention deletes
    expired rows in a TTL merge instead of dropping a partition (once a year)."""
    return [
        f"CREATE DATABASE IF NOT EXISTS `{database}`",
        f"""
CREATE TABLE IF NOT EXISTS `{database}`.`{SCORES_TABLE}` (
    {_column_ddl((*INPUT_COLUMNS, *BATCH_COLUMNS))},
    `_loaded_at` DateTime64(3) DEFAULT now64(3) COMMENT 'When the row landed'
)
ENGINE = MergeTree
ORDER BY (school_year, test_id, student_id)
TTL {school_calendar.expiry_sql(retention_years)}
COMMENT 'Validated score rows, append-only ledger of every load. Visible to dbt once the batch commits.'
""",
        f"""
CREATE TABLE IF NOT EXISTS `{database}`.`{QUARANTINE_TABLE}` (
    `_batch_id` LowCardinality(String) COMMENT 'Load batch (load_audit.batch_id)',
    `source` String COMMENT 'File (or generator) the row came from',
    `row_number` UInt64 COMMENT 'Row number in the source, 1 = first data row (0 = whole file)',
    `column` String COMMENT 'First column that failed validation (empty for structural errors)',
    `reason` String COMMENT 'Why the row was rejected',
    `raw_row` String COMMENT 'The row as read, JSON object of field -> text (or the raw line)',
    `_loaded_at` DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (_batch_id, row_number)
COMMENT 'Rows rejected by validation, with the reason. Nothing is dropped silently.'
""",
        f"""
CREATE TABLE IF NOT EXISTS `{database}`.`{AUDIT_TABLE}` (
    `batch_id` String COMMENT 'Load batch identifier',
    `source` String COMMENT 'File path, or generator:<seed>',
    `source_checksum` String COMMENT 'sha256 of the source bytes (of the generator parameters)',
    `source_bytes` UInt64,
    `rows_read` UInt64,
    `rows_landed` UInt64,
    `rows_quarantined` UInt64,
    `status` LowCardinality(String) COMMENT 'started | committed | failed | aborted',
    `message` String,
    `started_at` DateTime64(6),
    `finished_at` Nullable(DateTime64(6)),
    `committed_at` Nullable(DateTime64(6)) COMMENT 'Commit marker: rows are visible once set',
    `_updated_at` DateTime64(6) DEFAULT now64(6),
    {AUDIT_ADDED_COLUMNS}
)
ENGINE = ReplacingMergeTree(_updated_at)
ORDER BY batch_id
COMMENT 'One record per load (read with FINAL). rows_read = rows_landed + rows_quarantined.'
""",
        *(
            f"ALTER TABLE `{database}`.`{AUDIT_TABLE}` ADD COLUMN IF NOT EXISTS `{name}` {spec}"
            for name, spec in AUDIT_ADDED
        ),
    ]
