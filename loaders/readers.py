"""Read score files (CSV, Parquet, JSON lines; gzip accepted) as Arrow batches with row numbers.

Readers check what makes a whole file unusable and raise :class:`FileError` naming the file (and
row and column where there is one): missing or unreadable file, empty file, content that is not
what the extension says, wrong or missing header, wrong delimiter, extra columns, bad encoding,
truncated gzip, Parquet columns of the wrong type. Problems of single rows (too few or too many
fields, invalid JSON) become rejected rows for the quarantine; values are checked in validation.

Row numbers count data rows from 1 (a CSV header is row 0; in JSON lines, row = line number).
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import gzip
import hashlib
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loaders.schema import INPUT_COLUMN_NAMES, INPUT_COLUMNS
from loaders.validation import Rejected

FORMATS = ("csv", "parquet", "jsonl")
# CSV text parsed per batch (and the longest row a file may have: two blocks). A batch is one
# insert, and the engine holds several copies of a batch's text while it validates and sorts it:
# 10M rows from CSV took 26.8 s at 1.5 GB peak with 16 MiB, 23.6 s at 2.2 GB with 32 MiB (over
# the 2 GB budget), 24.3 s at 1.9 GB with 24 MiB.
CSV_BLOCK_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 256 * 1024
JSONL_BATCH_ROWS = 100_000


class FileError(Exception):
    """A file that cannot be loaded at all. Nothing of it is kept."""

    def __init__(
        self, path: str | os.PathLike[str], message: str, row: int | None = None, column: str | None = None
    ) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.path, self.row, self.column = str(path), row, column


@dataclass
class SourceBatch:
    table: pa.Table  # the contract columns, text or typed
    row_numbers: pa.Array  # uint64, one per row of table
    rejected: Rejected = field(default_factory=Rejected)


@dataclass(frozen=True)
class FileSource:
    path: Path
    format: str
    compressed: bool

    @property
    def name(self) -> str:
        return str(self.path)


# -- finding files ----------------------------------------------------------------------------

_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def format_of(path: Path, override: str | None = None) -> tuple[str, bool]:
    """(format, gzip-compressed) from the file name, e.g. scores.csv.gz -> ("csv", True)."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    if override:
        return override, compressed
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]], compressed
    raise FileError(
        path, "unknown file type: use .csv, .parquet or .jsonl (optionally .gz), or pass --format"
    )


def discover(patterns: list[str], format_override: str | None = None) -> list[FileSource]:
    """Files named by paths, globs or folders (folders: every supported file inside, recursively)."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            children = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            supported = [p for p in children if _supported(p) or format_override]
            if not supported:
                raise FileError(path, "folder contains no .csv, .parquet or .jsonl files")
            found.extend(supported)
        elif path.is_file():
            found.append(path)  # an existing file, even if its name has glob characters (br[a]ck.csv)
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            if not matches:
                raise FileError(pattern, "no file matches this pattern")
            found.extend(matches)
        elif path.exists():
            found.append(path)  # not a regular file (a fifo, a device): the readers say why
        else:
            raise FileError(path, "no such file or folder")
    sources, seen = [], set()
    for p in found:
        resolved = p.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        fmt, compressed = format_of(p, format_override)
        sources.append(FileSource(p, fmt, compressed))
    return sources


def _supported(path: Path) -> bool:
    try:
        format_of(path)
    except FileError:
        return False
    return True


# -- whole-file checks ------------------------------------------------------------------------


def checksum(path: Path) -> tuple[str, int]:
    """sha256 and size of the file's bytes; raises FileError when it cannot be read."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
                size += len(chunk)
    except PermissionError:
        raise FileError(path, "permission denied: the file cannot be read") from None
    except IsADirectoryError:
        raise FileError(path, "is a folder, not a file") from None
    except OSError as ex:
        raise FileError(path, f"cannot be read: {ex.strerror or ex}") from None
    return digest.hexdigest(), size


def _sniff(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        return "jsonl"
    if not text:
        return "empty"
    if b"\x00" in head[:4096]:
        return "binary"
    return "csv"


_KIND_NAMES = {
    "parquet": "a Parquet file",
    "gzip": "gzip-compressed data",
    "jsonl": "JSON text",
    "csv": "delimited text (CSV)",
    "binary": "binary data",
    "utf-16": "UTF-16 text",
}


def check_content(source: FileSource) -> None:
    """The bytes are what the name says: Parquet magic, gzip magic, text for CSV / JSON lines."""
    path = source.path
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        raise FileError(path, "the file is empty")
    kind = _sniff(head)
    if source.compressed:
        if kind != "gzip":
            raise FileError(path, f"named .gz but is not gzip-compressed (it looks like {_KIND_NAMES[kind]})")
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(8192)
        except (OSError, EOFError) as ex:
            raise FileError(path, f"the gzip data is corrupt or truncated ({ex})") from None
        if not head:
            raise FileError(path, "the file is empty (after decompression)")
        kind = _sniff(head)
    if source.format == "parquet":
        if kind != "parquet":
            raise FileError(path, f"is not a Parquet file: it looks like {_KIND_NAMES.get(kind, kind)}")
        return
    if kind == "utf-16":
        raise FileError(path, "is UTF-16 encoded; save it as UTF-8")
    if kind in ("parquet", "gzip", "binary"):
        expected = "CSV" if source.format == "csv" else "JSON lines"
        raise FileError(path, f"is not {expected}: it looks like {_KIND_NAMES[kind]}")
    if kind == "empty":
        raise FileError(path, "the file is empty (only blank lines)")
    if source.format == "jsonl" and kind != "jsonl":
        raise FileError(path, "is not JSON lines: the first line is not a JSON object")


# -- CSV --------------------------------------------------------------------------------------


@dataclass
class BytesRead:
    """How far a reader got in its file (compressed bytes for .gz), for progress bars."""

    count: int = 0


class _CountingReader(io.RawIOBase):
    def __init__(self, handle: IO[bytes], tally: BytesRead) -> None:
        self.handle = handle
        self.tally = tally

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.handle.readinto(buffer)  # type: ignore[attr-defined]
        self.tally.count += n or 0
        return n or 0


def _open_text_stream(source: FileSource, handle: IO[bytes], tally: BytesRead | None) -> IO[bytes]:
    buffered = io.BufferedReader(_CountingReader(handle, tally or BytesRead()), buffer_size=1 << 20)
    if source.compressed:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def _names(names: list[str], limit: int = 10) -> str:
    """Column names for a message: the first ``limit``, then how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")


def _header_problem(names: list[str], delimiter: str, ignore_extra: bool, strip: bool = True) -> str | None:
    """What is wrong with a header (CSV) or schema (Parquet, ``strip=False``: a column name is
    matched exactly, as the readers select columns by it), or None."""
    cleaned = [n.strip() for n in names] if strip else list(names)
    present = set(cleaned)
    missing = [c for c in INPUT_COLUMN_NAMES if c not in present]
    extra = [c for c in cleaned if c not in INPUT_COLUMN_NAMES]
    duplicated = sorted(c for c, n in Counter(cleaned).items() if n > 1)
    if len(cleaned) == 1 and missing:
        for candidate, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
            if candidate != delimiter and candidate in names[0]:
                return (
                    f"the header has one column; the file looks {label}-delimited "
                    f"(pass --delimiter {candidate!r}); expected columns: {', '.join(INPUT_COLUMN_NAMES)}"
                )
    if duplicated:
        return f"the header repeats columns: {_names(duplicated)}"
    if missing:
        spaced = [repr(c) for c in cleaned if c != c.strip() and c.strip() in missing]
        if spaced:
            return (
                f"column names have surrounding spaces: {_names(spaced)}; rename them to the contract's names"
            )
        if not any(c in INPUT_COLUMN_NAMES for c in cleaned):
            return (
                f"wrong or missing header: found {', '.join(repr(c[:30]) for c in cleaned[:5])}"
                f"{'...' if len(cleaned) > 5 else ''}; expected a header row with: "
                f"{', '.join(INPUT_COLUMN_NAMES)}"
            )
        return f"the header lacks columns: {', '.join(missing)}"
    if extra and not ignore_extra:
        return (
            f"the header has unexpected columns: {_names(extra)} "
            "(pass --ignore-extra-columns to load the file without them)"
        )
    return None


HEADER_MAX_BYTES = 1 << 20


def _read_csv_header(source: FileSource, delimiter: str) -> tuple[list[str], bool]:
    """The header's fields, and whether anything follows the header (False: a header-only file
    without a final line break). The header ends at the first line break: \\n, \\r\\n or a lone
    \\r (old Mac files), as in the CSV parser."""
    with source.path.open("rb") as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if source.compressed else raw  # type: ignore[assignment]
        try:
            head = stream.read(HEADER_MAX_BYTES)
        except (OSError, EOFError) as ex:
            raise FileError(source.path, f"the gzip data is corrupt or truncated ({ex})") from None
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
    except UnicodeDecodeError:
        raise FileError(source.path, "the header is not valid UTF-8; save the file as UTF-8", row=0) from None
    try:
        return next(csv.reader([text], delimiter=delimiter), []), rest
    except csv.Error as ex:
        raise FileError(source.path, f"the header cannot be parsed as CSV ({ex})", row=0) from None


def _fill_row_numbers(start: int, count: int, skipped: list[int]) -> tuple[np.ndarray, int]:
    """Numbers of ``count`` good rows from ``start`` on, jumping over row numbers in ``skipped``."""
    skip = np.array(sorted(n for n in skipped if n >= start), dtype=np.int64)
    numbers = np.arange(start, start + count, dtype=np.int64)
    if len(skip):
        # the k-th good row is start + k + (number of skipped rows at or before it)
        for s in skip:
            numbers[numbers >= s] += 1
    end = int(numbers[-1]) + 1 if count else start
    return numbers, end


def _decode_utf8(source: FileSource, table: pa.Table, numbers: np.ndarray) -> pa.Table:
    columns = []
    for name in table.column_names:
        column = table.column(name)
        try:
            columns.append(column.cast(pa.string()))
        except pa.ArrowInvalid:
            values = column.to_pylist()
            for i, value in enumerate(values):
                try:
                    (value or b"").decode("utf-8")
                except UnicodeDecodeError:
                    raise FileError(
                        source.path,
                        f"not valid UTF-8 ({value[:40]!r}); the file must be UTF-8 encoded "
                        "(convert it, e.g. iconv -f latin1 -t utf-8)",
                        row=int(numbers[i]),
                        column=name,
                    ) from None
            raise
    return pa.Table.from_arrays(columns, names=table.column_names)


def read_csv(
    source: FileSource, delimiter: str = ",", ignore_extra: bool = False, tally: BytesRead | None = None
) -> Iterator[SourceBatch]:
    names, rows_follow = _read_csv_header(source, delimiter)
    problem = _header_problem(names, delimiter, ignore_extra)
    if problem:
        raise FileError(source.path, problem, row=0)
    if not rows_follow:
        return  # only a header (without a final line break): no rows
    header = [n.strip() for n in names]
    skipped: list[int] = []
    rejected = Rejected()

    def on_invalid(row: Any) -> str:
        number = int(row.number) - 1 if row.number and row.number > 0 else -1
        skipped.append(number)
        rejected.add(
            number, f"expected {row.expected_columns} fields, found {row.actual_columns}", row.text[:10000]
        )
        return "skip"

    handle = source.path.open("rb")
    stream = _open_text_stream(source, handle, tally)
    next_row = 1
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False, block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.binary() for n in header},
                include_columns=list(INPUT_COLUMN_NAMES),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            table = pa.Table.from_batches([batch])
            numbers, next_row = _fill_row_numbers(next_row, table.num_rows, skipped)
            table = _decode_utf8(source, table, numbers)
            out = SourceBatch(table, pa.array(numbers.astype(np.uint64)))
            if len(rejected):
                out.rejected, rejected = rejected, Rejected()
            yield out
        if len(rejected):
            yield SourceBatch(
                pa.Table.from_pylist([], schema=_text_schema()), pa.array([], pa.uint64()), rejected
            )
    except (pa.ArrowInvalid, OSError, EOFError) as ex:
        message = str(ex)
        if "straddling" in message or ("block" in message and "larger" in message):
            # the reader does not say which row: the first one it had not returned yet, or later
            raise FileError(
                source.path,
                f"a row is larger than {CSV_BLOCK_BYTES >> 20} MB (row {next_row} or a later one)",
            ) from None
        if source.compressed and any(
            w in message.lower() for w in ("gzip", "compressed", "truncated", "eof", "end of stream", "crc")
        ):
            raise FileError(source.path, "the gzip data is corrupt or truncated") from None
        raise FileError(source.path, f"cannot be parsed as CSV: {message}") from None
    finally:
        stream.close()
        handle.close()


def _text_schema() -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in INPUT_COLUMN_NAMES])


# -- JSON lines -------------------------------------------------------------------------------


def read_jsonl(
    source: FileSource, ignore_extra: bool = False, tally: BytesRead | None = None
) -> Iterator[SourceBatch]:
    handle = source.path.open("rb")
    stream = _open_text_stream(source, handle, tally)
    known = set(INPUT_COLUMN_NAMES)
    try:
        columns: dict[str, list[Any]] = {n: [] for n in INPUT_COLUMN_NAMES}
        appends = [(n, columns[n].append) for n in INPUT_COLUMN_NAMES]
        numbers: list[int] = []
        rejected = Rejected()
        line_number = 0
        first_row = True
        for raw in stream:
            line_number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise FileError(
                    source.path, "not valid UTF-8; the file must be UTF-8 encoded", row=line_number
                ) from None
            if line_number == 1:
                text = text.lstrip("\ufeff")
            stripped = text.strip()
            if not stripped:
                continue  # blank lines are not rows
            if first_row and (stripped[0] == "[" or stripped == "{"):
                # a JSON document (an array, or an object spread over lines), not one per line
                raise FileError(
                    source.path,
                    "this is JSON, not JSON lines: the file must hold one JSON object per line "
                    "(convert it, e.g. `jq -c '.[]' file.json > file.jsonl`)",
                    row=line_number,
                )
            first_row = False
            problem, record = _parse_json_line(stripped, known, ignore_extra)
            if problem:
                rejected.add(line_number, problem, stripped[:10000])
                continue
            numbers.append(line_number)
            get = record.get
            for name, append in appends:
                value = get(name)
                # text as it is (most values), anything else through _json_value_as_text
                append(value if type(value) is str else _json_value_as_text(value))
            if len(numbers) >= JSONL_BATCH_ROWS:
                yield _jsonl_batch(columns, numbers, rejected)
                columns = {n: [] for n in INPUT_COLUMN_NAMES}
                appends = [(n, columns[n].append) for n in INPUT_COLUMN_NAMES]
                numbers, rejected = [], Rejected()
        if numbers or len(rejected):
            yield _jsonl_batch(columns, numbers, rejected)
        if line_number == 0:
            raise FileError(source.path, "the file is empty")
    except (OSError, EOFError) as ex:
        if source.compressed:
            raise FileError(source.path, f"the gzip data is corrupt or truncated ({ex})") from None
        raise FileError(source.path, f"cannot be read: {ex}") from None
    finally:
        stream.close()
        handle.close()


class _DuplicateFieldError(ValueError):
    pass


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a name given twice is an error (json.loads would keep the last value)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        names = [name for name, _ in pairs]
        raise _DuplicateFieldError(next(name for i, name in enumerate(names) if name in names[:i]))
    return record


# \ud800-\udfff escapes: json.loads accepts an unpaired one, which no UTF-8 text can hold
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_KINDS = {bool: "boolean", dict: "object", list: "array"}
# columns whose JSON value must be a string or a number (dimension_scores may be an object)
_JSON_SCALAR_COLUMNS = tuple(n for n in INPUT_COLUMN_NAMES if n != "dimension_scores")
_NOT_SCALAR = frozenset(_JSON_KINDS)


# one decoder for every line (json.loads with a hook builds a new one per call)
_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_json_object)


def _parse_json_line(text: str, known: set[str], ignore_extra: bool) -> tuple[str | None, dict[str, Any]]:
    try:
        record = _JSON_DECODER.decode(text)
    except json.JSONDecodeError as ex:
        return f"not valid JSON: {ex.msg} at character {ex.pos + 1}", {}
    except RecursionError:
        return "not valid JSON: nested too deeply", {}
    except _DuplicateFieldError as ex:
        return f"field {str(ex)[:64]!r} appears more than once in an object", {}
    if not isinstance(record, dict):
        return f"expected a JSON object, found {type(record).__name__}", {}
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as ex:
            return f"not valid JSON text: an unpaired surrogate escape \\u{ord(ex.object[ex.start]):04x}", {}
    extra = [k for k in record if k not in known]
    if extra and not ignore_extra:
        return f"unexpected fields: {', '.join(extra[:10])} (pass --ignore-extra-columns to drop them)", {}
    if not _NOT_SCALAR.isdisjoint(map(type, map(record.get, _JSON_SCALAR_COLUMNS))):
        name = next(n for n in _JSON_SCALAR_COLUMNS if type(record.get(n)) in _NOT_SCALAR)
        return f"{name} is a JSON {_JSON_KINDS[type(record[name])]}; expected a string or a number", {}
    return None, record


def _json_value_as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _jsonl_batch(columns: dict[str, list[Any]], numbers: list[int], rejected: Rejected) -> SourceBatch:
    table = pa.table({n: pa.array(columns[n], pa.string()) for n in INPUT_COLUMN_NAMES})
    return SourceBatch(table, pa.array(numbers, pa.uint64()), rejected)


# -- Parquet ----------------------------------------------------------------------------------


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


def parquet_file(source: FileSource) -> pq.ParquetFile:
    try:
        if source.compressed:
            return pq.ParquetFile(pa.BufferReader(gzip.decompress(source.path.read_bytes())))
        return pq.ParquetFile(source.path)
    except (pa.ArrowInvalid, OSError, EOFError) as ex:
        raise FileError(source.path, f"is not a readable Parquet file ({ex})") from None


def check_parquet_schema(source: FileSource, ignore_extra: bool = False) -> pq.ParquetFile:
    """The file's columns are the contract's, with usable types; raises FileError otherwise."""
    parquet = parquet_file(source)
    schema = parquet.schema_arrow
    names = schema.names
    problem = _header_problem(names, ",", ignore_extra, strip=False)
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


def read_parquet(source: FileSource, ignore_extra: bool = False) -> Iterator[SourceBatch]:
    parquet = check_parquet_schema(source, ignore_extra)
    next_row = 1
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(INPUT_COLUMN_NAMES)):
            table = pa.Table.from_batches([batch])
            numbers = pa.array(np.arange(next_row, next_row + table.num_rows, dtype=np.uint64))
            next_row += table.num_rows
            yield SourceBatch(table, numbers)
    except (pa.ArrowInvalid, OSError) as ex:
        raise FileError(source.path, f"is corrupt after row {next_row - 1} ({ex})") from None


# Characters that file() would take as a glob: such paths are read through pyarrow.
_GLOB_CHARACTERS = set("*?{}[]")
# Dates the engine's Date32 holds (it clamps others, so their text would differ from pyarrow's).
_EPOCH = dt.date(1970, 1, 1)
_DATE32_MIN, _DATE32_MAX = ((dt.date(y, m, d) - _EPOCH).days for y, m, d in ((1900, 1, 1), (2299, 12, 31)))


def engine_parquet_columns(source: FileSource, ignore_extra: bool = False) -> list[str] | None:
    """SQL over the engine's ``file(path, Parquet)`` giving the contract columns as the same text
    :func:`read_parquet` + ``as_text`` give, or None when the file must be read through pyarrow.

    The engine reads the file itself (in parallel, without Python), for plain (not gzipped)
    files whose columns are strings, integers or date32 with dates the engine holds exactly.
    Checks the schema like read_parquet (FileError on a wrong one).
    """
    parquet = check_parquet_schema(source, ignore_extra)
    if source.compressed or _GLOB_CHARACTERS & set(str(source.path)):
        return None
    schema = parquet.schema_arrow
    if "_row_number" in schema.names:
        return None  # an (ignored) extra column of that name would hide the engine's row numbers
    columns = []
    for name in INPUT_COLUMN_NAMES:
        arrow_type = schema.field(name).type
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            columns.append(f"`{name}`")
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


def parquet_rows(source: FileSource) -> int:
    return int(parquet_file(source).metadata.num_rows)
