"""Write generated rows to files (CSV, Parquet, JSON lines, optionally .gz), streaming."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loaders.discovery import format_of
from loaders.schema import INPUT_SCHEMA


def write_batches(batches: Iterable[pa.RecordBatch], path: Path) -> int:
    """Write batches to ``path`` in the format its name says; returns the number of rows."""
    fmt, compressed = format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    rows = 0
    raw: IO[bytes] = tmp.open("wb")
    sink: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5) if compressed else raw  # type: ignore[assignment]
    try:
        if fmt == "parquet":
            with pq.ParquetWriter(sink, INPUT_SCHEMA, compression="zstd") as writer:
                for batch in batches:
                    writer.write_batch(batch, row_group_size=1 << 20)
                    rows += batch.num_rows
        elif fmt == "csv":
            with pacsv.CSVWriter(sink, INPUT_SCHEMA) as writer:
                for batch in batches:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        else:
            for batch in batches:
                for record in batch.to_pylist():
                    record["test_date"] = record["test_date"].isoformat()
                    sink.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
                rows += batch.num_rows
    finally:
        if compressed:
            sink.close()
        raw.close()
    tmp.replace(path)  # the file appears complete or not at all
    return rows
