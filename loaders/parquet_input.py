"""Read a Parquet file through pyarrow as Arrow batches with row numbers, its schema checked."""

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loaders.file_errors import FileError, not_utf8
from loaders.headers import header_problem
from loaders.schema import INPUT_COLUMN_NAMES, INPUT_COLUMNS
from loaders.sources import FileSource, SourceBatch, regular_path

PARQUET_BATCH_ROWS = 256 * 1024


def _parquet_type_ok(name: str, arrow_type: pa.DataType) -> bool:
    column = next(c for c in INPUT_COLUMNS if c.name == name)
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if name == "test_date":
        return bool(
            pa.types.is_date(arrow_type)
            or pa.types.is_timestamp(arrow_type)
            or pa.types.is_string(arrow_type)
        )
    if pa.types.is_integer(column.arrow_type):
        return bool(pa.types.is_integer(arrow_type))
    return bool(
        pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type)
    )


def _problem_text(error: BaseException) -> str:
    """An error's first line, cut: Arrow's messages name what is wrong, not the data."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


def parquet_file(source: FileSource) -> pq.ParquetFile:
    if source.gzipped:
        raise ValueError("decompress a .parquet.gz first (streams.unpacked)")
    path = regular_path(source)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError, EOFError) as ex:
        raise FileError(source.path, f"is not a readable Parquet file ({_problem_text(ex)})") from None


def check_parquet_schema(source: FileSource, ignore_extra: bool = False) -> pq.ParquetFile:
    """The file's columns are the contract's, with usable types; raises FileError otherwise."""
    parquet = parquet_file(source)
    schema = parquet.schema_arrow
    names = schema.names
    problem = header_problem(names, ",", ignore_extra, strip=False)
    if problem:
        raise FileError(source.path, problem.replace("header", "schema").replace("--delimiter", "--format"))
    wrong = [
        f"{n} is {schema.field(n).type}"
        for n in INPUT_COLUMN_NAMES
        if not _parquet_type_ok(n, schema.field(n).type)
    ]
    if wrong:
        raise FileError(
            source.path,
            "columns have the wrong type: "
            + "; ".join(wrong)
            + " (ids and names must be strings, grade/school_year/scores/level integers, test_date a date)",
            column=wrong[0].split(" ")[0],
        )
    return parquet


def _check_utf8(source: FileSource, table: pa.Table, rows: np.ndarray) -> None:
    """Parquet strings are UTF-8 by the format, but nothing stops a writer: the same rule as for
    CSV and JSON lines (the file is refused naming row and column)."""
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        binary = pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()
        offset = 0
        for chunk in column.chunks:
            try:
                chunk.validate(full=True)
            except pa.ArrowInvalid:
                for i, value in enumerate(chunk.view(binary).to_pylist()):
                    try:
                        (value or b"").decode("utf-8")
                    except UnicodeDecodeError as ex:
                        raise not_utf8(
                            source.path, value, ex, row=int(rows[offset + i]), column=name
                        ) from None
                raise
            offset += len(chunk)


def read_parquet(source: FileSource, ignore_extra: bool = False) -> Iterator[SourceBatch]:
    parquet = check_parquet_schema(source, ignore_extra)
    next_row = 1
    try:
        # batches of PARQUET_BATCH_ROWS whatever the row groups: many tiny ones come as one batch
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(INPUT_COLUMN_NAMES)):
            table = pa.Table.from_batches([batch])
            numbers = np.arange(next_row, next_row + table.num_rows, dtype=np.uint64)
            _check_utf8(source, table, numbers)
            next_row += table.num_rows
            yield SourceBatch(table, pa.array(numbers))
    except (pa.ArrowInvalid, OSError) as ex:
        raise FileError(source.path, f"is corrupt after row {next_row - 1} ({_problem_text(ex)})") from None


def parquet_rows(source: FileSource) -> int:
    return int(parquet_file(source).metadata.num_rows)
