"""Read a CSV file (gzip accepted) as Arrow batches of text with row numbers."""

import contextlib
import csv
import gzip
import re
import sys
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from loaders.csv_rows import CsvRows
from loaders.file_errors import (
    FileError,
    gzip_problem,
    not_utf8,
)
from loaders.headers import header_problem
from loaders.schema import INPUT_COLUMN_NAMES
from loaders.sources import FileSource, SourceBatch, open_source
from loaders.streams import BytesRead, open_text_stream

# CSV text parsed per batch (and the longest row a file may have: two blocks). A batch is one
# insert, and the engine holds several copies of a batch's text while it validates and sorts it:
# larger blocks were hardly faster and took a large load over its memory budget
# (benchmarks/README.md).
CSV_BLOCK_BYTES = 16 << 20
HEADER_MAX_BYTES = 1 << 20


def _read_csv_header(source: FileSource, delimiter: str) -> tuple[list[str], bool]:
    """The header's fields, and whether anything follows the header (False: a header-only file
    without a final line break). The header ends at the first line break: \\n, \\r\\n or a lone
    \\r (old Mac files), as in the CSV parser."""
    with open_source(source) as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if source.gzipped else raw  # type: ignore[assignment]
        try:
            head = stream.read(HEADER_MAX_BYTES)
        except (OSError, EOFError) as ex:
            raise FileError(source.path, gzip_problem(ex)) from None
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    if ends:
        first, rest = head[: min(ends)], True
    elif len(head) < HEADER_MAX_BYTES:
        first, rest = head, False
    else:
        raise FileError(
            source.path,
            f"no line break in the first {HEADER_MAX_BYTES >> 20} MB: the header is too long",
            row=0,
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        raise not_utf8(source.path, first, ex, row=0, column=None) from None
    if text.count('"') % 2:
        # the parser would read the header on into the next lines
        raise FileError(source.path, "the header has an unterminated quote", row=0)
    try:
        return next(csv.reader([text], delimiter=delimiter), []), rest
    except csv.Error as ex:
        raise FileError(source.path, f"the header cannot be parsed as CSV ({ex})", row=0) from None


def _text_columns(source: FileSource, table: pa.Table, rows: np.ndarray) -> pa.Table:
    """The table's binary columns as UTF-8 text; FileError naming row and column otherwise."""
    columns = []
    for name in table.column_names:
        column = table.column(name)
        try:
            columns.append(column.cast(pa.string()))
        except pa.ArrowInvalid:
            for i, value in enumerate(column.to_pylist()):
                try:
                    (value or b"").decode("utf-8")
                except UnicodeDecodeError as ex:
                    raise not_utf8(source.path, value, ex, row=int(rows[i]), column=name) from None
            raise
    return pa.Table.from_arrays(columns, names=table.column_names)


class _QuietRowDecodeErrors:
    """pyarrow decodes a malformed row's text before it calls the invalid-row handler; on invalid
    UTF-8 that fails outside the handler, is reported as an 'unraisable' exception (a traceback
    on stderr) and stops the file with a parse error quoting the row. While parsing, that report
    is silenced and noted, and the reader names the row instead."""

    def __init__(self) -> None:
        self.failed = False

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        previous = sys.unraisablehook

        def hook(info: Any) -> None:
            if isinstance(info.exc_value, UnicodeDecodeError):
                self.failed = True
                return
            previous(info)

        sys.unraisablehook = hook
        try:
            yield
        finally:
            sys.unraisablehook = previous


_PARSE_ROW = re.compile(r"Row #(\d+)")


def _parse_problem(message: str) -> str:
    """Arrow's CSV error without the row text it quotes (the first clauses only)."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    first = re.sub(r"(got \d+)\s*:.*$", r"\1", first)
    return first[:200]


def read_csv(
    source: FileSource, delimiter: str = ",", ignore_extra: bool = False, tally: BytesRead | None = None
) -> Iterator[SourceBatch]:
    names, rows_follow = _read_csv_header(source, delimiter)
    problem = header_problem(names, delimiter, ignore_extra)
    if problem:
        raise FileError(source.path, problem, row=0)
    if not rows_follow:
        return  # only a header (without a final line break): no rows
    header = [n.strip() for n in names]
    numbering = CsvRows(delimiter)
    quiet = _QuietRowDecodeErrors()

    handle = open_source(source)
    stream = open_text_stream(source, handle, tally)
    try:
        with quiet.active():
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False, block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    newlines_in_values=True,
                    # blank lines reach the handler, which skips them: they keep their row number
                    ignore_empty_lines=False,
                    invalid_row_handler=numbering.on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.binary() for n in header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        while True:
            try:
                with quiet.active():
                    batch = reader.read_next_batch()
            except StopIteration:
                break
            table, rows, rejected = numbering.number(pa.Table.from_batches([batch]))
            table = _text_columns(source, table, rows)
            yield SourceBatch(table, pa.array(rows.astype(np.uint64)), rejected)
        empty = pa.Table.from_pylist(
            [], schema=pa.schema([pa.field(n, pa.binary()) for n in INPUT_COLUMN_NAMES])
        )
        _, _, rejected = numbering.number(empty, final=True)
        if len(rejected):
            yield SourceBatch(
                pa.Table.from_pylist([], schema=_text_schema()), pa.array([], pa.uint64()), rejected
            )
    except (pa.ArrowInvalid, OSError, EOFError) as ex:
        message = str(ex)
        next_row = numbering.row_of(numbering.next_record)
        if quiet.failed and (found := _PARSE_ROW.search(message)):
            # a row with the wrong number of fields and invalid UTF-8 (see _QuietRowDecodeErrors)
            row = numbering.row_of(int(found.group(1)) - 1)
            raise FileError(
                source.path,
                "not valid UTF-8 (in a row that also has the wrong number of fields); the file must be "
                "UTF-8 encoded (convert it, e.g. iconv -f latin1 -t utf-8)",
                row=row,
            ) from None
        if "straddling" in message or ("block" in message and "larger" in message):
            # the reader does not say which row: the first one it had not returned yet, or later
            raise FileError(
                source.path,
                f"a row is larger than {CSV_BLOCK_BYTES >> 20} MB (row {next_row} or a later one)",
            ) from None
        if source.gzipped and (
            isinstance(ex, EOFError | gzip.BadGzipFile)
            or any(
                w in message.lower()
                for w in ("gzip", "compressed", "truncated", "eof", "end of stream", "crc")
            )
        ):
            raise FileError(source.path, gzip_problem(ex)) from None
        raise FileError(source.path, f"cannot be parsed as CSV: {_parse_problem(message)}") from None
    finally:
        stream.close()
        handle.close()


def _text_schema() -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in INPUT_COLUMN_NAMES])
