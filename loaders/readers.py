"""Read score files (CSV, Parquet, JSON lines; gzip accepted) as Arrow batches with row numbers.

Readers check what makes a whole file unusable and raise :class:`FileError` naming the file (and
row and column where there is one): missing or unreadable file, not a regular file (a FIFO, a
device, a socket), empty file, content that is not what the extension says, wrong or missing
header, wrong delimiter, extra columns, bad encoding, truncated gzip, a .parquet.gz that
decompresses beyond its limit, Parquet columns of the wrong type. Problems of single rows (too few
or too many fields, an unterminated quote, invalid JSON, a JSON line over its length limit) become
rejected rows for the quarantine; values are checked in validation.

Row numbers count data rows from 1. CSV: one line is one row, row N is line N + 1 (the header is
line 1, row 0); a value cannot span lines, so a quoted value that runs over several lines (an
unterminated quote) is quarantined as one rejected row per line it covers. JSON lines: row = line
number. Blank lines are not rows but keep their number. Parquet: the N-th row of the file.

Messages quote no more of a file than needed: they name the file, row, column or byte and the kind
of problem. They show a piece of the file only where it is clearly the file's data (names in a
header that has contract columns, the value with invalid UTF-8), escaped and at most
``EXCERPT_CHARS`` characters; never the bytes of a file that is not what its name says.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import errno
import glob
import gzip
import hashlib
import io
import json
import os
import re
import stat
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loaders.config import gzip_max_ratio
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
# The longest JSON line, without its line break. A valid row is a few KiB at most (ids of 64
# characters, names of 200, dimension_scores of 4 KiB); a longer line is quarantined unread.
JSONL_MAX_LINE_BYTES = 1 << 20
# Most characters of a file a message shows (a value with invalid UTF-8, header names).
EXCERPT_CHARS = 40
# Most characters of a malformed line kept as its raw_row in the quarantine.
RAW_ROW_CHARS = 10_000
# The embedded engine reads a Parquet file itself unless it has many row groups that are small
# on average: the engine validates each row group as its own block, which costs about a
# millisecond, so 3,000 one-row groups loaded at 835 rows/s; pyarrow reads many row groups per
# batch instead. A few small groups cost nothing worth avoiding.
ENGINE_MIN_ROW_GROUP_ROWS = 8192
ENGINE_SMALL_ROW_GROUPS = 64


# -- names and messages -----------------------------------------------------------------------

# control characters (C0, DEL, C1, line/paragraph separators): never printed as they are
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text with its control characters escaped (\\n, \\x1b, \\u2028): safe to print."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def display_name(path: str | os.PathLike[str] | bytes) -> str:
    """A file name as messages, the audit (``load_audit.source``) and the quarantine show it.

    Bytes that are not UTF-8 appear as ``\\xNN`` (``b'bad\\xffname.csv'`` -> ``bad\\xffname.csv``),
    control characters as ``\\n``, ``\\x1b``, ``\\u2028``: a name cannot break or forge a line
    of output, and every name can be stored and printed.
    """
    text = os.fsdecode(path)
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the name's bytes, as on disk
    except UnicodeEncodeError:  # a str with surrogates no file system gave
        raw = text.encode("utf-8", "backslashreplace")
    return printable(raw.decode("utf-8", "backslashreplace"))


def excerpt(value: str | bytes, limit: int = EXCERPT_CHARS, quoted: bool = True) -> str:
    """A short piece of a file's data for a message: escaped (invalid UTF-8 as \\xNN, control
    characters escaped), cut at ``limit`` characters, quoted unless ``quoted=False``."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    shown = printable(text[:limit]) + ("..." if len(text) > limit else "")
    return f"'{shown}'" if quoted else shown


class FileError(Exception):
    """A file that cannot be loaded at all. Nothing of it is kept."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        message: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = display_name(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.path, self.row, self.column = display_name(path), row, column


def _not_utf8(
    path: str | os.PathLike[str], value: bytes, error: UnicodeDecodeError, row: int, column: str | None
) -> FileError:
    """The one message for invalid UTF-8, in every format: the file is refused, naming the row,
    the column and the byte, with an escaped excerpt of the value."""
    where = "value" if column else "line"
    start = max(0, error.start - EXCERPT_CHARS // 2)
    return FileError(
        path,
        f"not valid UTF-8 (byte 0x{value[error.start]:02X} at byte {error.start + 1} of the {where}, "
        f"near {excerpt(value[start : start + EXCERPT_CHARS])}); the file must be UTF-8 encoded "
        "(convert it, e.g. iconv -f latin1 -t utf-8)",
        row=row,
        column=column,
    )


def _gzip_problem(error: BaseException) -> str:
    """What is wrong with gzip data, without the bytes Python's message quotes."""
    if isinstance(error, gzip.BadGzipFile):
        return "the gzip data is corrupt (not gzip data where a gzip member should start)"
    if isinstance(error, EOFError):
        return "the gzip data is truncated (it ends before the end of the compressed stream)"
    return "the gzip data is corrupt or truncated"


@dataclass
class SourceBatch:
    table: pa.Table  # the contract columns, text or typed
    row_numbers: pa.Array  # uint64, one per row of table
    rejected: Rejected = field(default_factory=Rejected)


@dataclass(frozen=True)
class FileSource:
    path: Path  # as named (messages, the audit)
    format: str
    compressed: bool
    # where the bytes are read from: the descriptor opened for the whole load (/proc/self/fd/N,
    # which names that very file even if the path is replaced meanwhile) or, for a .parquet.gz,
    # its decompressed copy; None: the path itself
    data: str | None = None
    unpacked: bool = False  # data is the decompressed copy of a gzip-compressed file

    @property
    def name(self) -> str:
        return display_name(self.path)

    @property
    def read_path(self) -> str:
        return self.data if self.data is not None else os.fspath(self.path)

    @property
    def gzipped(self) -> bool:
        """The bytes at read_path are gzip-compressed."""
        return self.compressed and not self.unpacked


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
    """Files named by paths, globs or folders (folders: every supported file inside, recursively).

    Entries that are not regular files (a FIFO, a device, a dangling link) are listed too when
    their names are those of score files: the loader then refuses each with a message, rather
    than leaving it out unsaid.
    """
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            children = sorted(p for p in path.rglob("*") if not p.is_dir() and not p.name.startswith("."))
            supported = [p for p in children if _supported(p) or format_override]
            if not supported:
                raise FileError(path, "folder contains no .csv, .parquet or .jsonl files")
            found.extend(supported)
        elif path.is_file():
            found.append(path)  # an existing file, even if its name has glob characters (br[a]ck.csv)
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if not Path(p).is_dir())
            if not matches:
                raise FileError(pattern, "no file matches this pattern")
            found.extend(matches)
        elif path.exists():
            found.append(path)  # not a regular file (a fifo, a device): the loader says why
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


# -- opening files ----------------------------------------------------------------------------

_FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)
# where an open descriptor can be opened again as the same file (Linux); elsewhere files are
# opened again by name, each open checked the same way
_DESCRIPTORS = "/proc/self/fd"


def _not_regular(path: str | os.PathLike[str], mode: int) -> FileError:
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return FileError(path, f"is {kind}, not a regular file: only regular files are loaded")


def _open_error(path: str | os.PathLike[str], error: OSError) -> FileError:
    if isinstance(error, FileNotFoundError):
        return FileError(path, "no such file (or a link to a missing file)")
    if isinstance(error, PermissionError):
        return FileError(path, "permission denied: the file cannot be read")
    if isinstance(error, IsADirectoryError):
        return FileError(path, "is a folder, not a file")
    if error.errno == errno.ENXIO:
        return FileError(path, "is a socket or a device without a reader, not a regular file")
    return FileError(path, f"cannot be read: {error.strerror or error}")


def open_regular(path: str | os.PathLike[str], name: str | os.PathLike[str] | None = None) -> BinaryIO:
    """Open a regular file for reading; anything else is refused with a FileError naming ``name``.

    The kind is checked before opening (links resolved), and again on the opened descriptor: the
    open itself is non-blocking, so a FIFO swapped in between cannot make it wait for a writer,
    and a device is never read.
    """
    shown = path if name is None else name
    try:
        mode = os.stat(path).st_mode
    except OSError as ex:
        raise _open_error(shown, ex) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(shown, mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as ex:
        raise _open_error(shown, ex) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(shown, mode)
        os.set_blocking(fd, True)  # a regular file: plain blocking reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open(source: FileSource) -> BinaryIO:
    return open_regular(source.read_path, source.path)


@contextlib.contextmanager
def opened(source: FileSource) -> Iterator[tuple[FileSource, BinaryIO]]:
    """The file opened once for a whole load, and the source to read it through: every later
    read (checksum, content, rows; the engine's too) is of this very file, whatever happens to
    its path meanwhile."""
    handle = open_regular(source.path)
    try:
        data = f"{_DESCRIPTORS}/{handle.fileno()}" if os.path.isdir(_DESCRIPTORS) else None
        yield dataclasses.replace(source, data=data), handle
    finally:
        handle.close()


def file_state(handle: BinaryIO) -> tuple[int, int, int]:
    """What changes when a file is rewritten or appended to: size, modification time, inode."""
    state = os.fstat(handle.fileno())
    return state.st_size, state.st_mtime_ns, state.st_ino


def _regular_path(source: FileSource) -> str:
    """read_path for readers that open it themselves (pyarrow), checked to be a regular file."""
    with _open(source):
        pass
    return source.read_path


# -- whole-file checks ------------------------------------------------------------------------


def checksum(source: FileSource) -> tuple[str, int]:
    """sha256 and size of the file's bytes; raises FileError when it cannot be read."""
    digest = hashlib.sha256()
    size = 0
    with _open(source) as handle:
        try:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
                size += len(chunk)
        except OSError as ex:
            raise _open_error(source.path, ex) from None
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
    with _open(source) as handle:
        head = handle.read(8192)
    if not head:
        raise FileError(path, "the file is empty")
    kind = _sniff(head)
    if source.gzipped:
        if kind != "gzip":
            raise FileError(path, f"named .gz but is not gzip-compressed (it looks like {_KIND_NAMES[kind]})")
        try:
            with _open(source) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                head = stream.read(8192)
        except (OSError, EOFError) as ex:
            raise FileError(path, _gzip_problem(ex)) from None
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


@contextlib.contextmanager
def unpacked(source: FileSource, max_ratio: int | None = None) -> Iterator[FileSource]:
    """A .parquet.gz decompressed to a temporary file (in $TMPDIR, removed afterwards), read from
    there: a Parquet reader needs to seek, and the whole file is never held in memory.

    Decompression stops, and the file is refused, beyond ``max_ratio`` (SCORES_GZIP_MAX_RATIO,
    loaders.config) times the compressed size: a decompression bomb. Other sources pass as they
    are (CSV and JSON lines are decompressed as a stream).
    """
    if not (source.format == "parquet" and source.gzipped):
        yield source
        return
    ratio = gzip_max_ratio() if max_ratio is None else max_ratio
    fd, temporary = tempfile.mkstemp(prefix="scores-", suffix=".parquet")
    try:
        with os.fdopen(fd, "wb") as out, _open(source) as raw:
            limit = os.fstat(raw.fileno()).st_size * ratio
            written = 0
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                while True:
                    try:
                        chunk = stream.read(1 << 20)
                    except (OSError, EOFError) as ex:
                        raise FileError(source.path, _gzip_problem(ex)) from None
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > limit:
                        raise FileError(
                            source.path,
                            f"decompresses to more than {ratio} times its size (over {limit:,} bytes): "
                            "refused as a possible decompression bomb; if the file is genuine, raise "
                            "SCORES_GZIP_MAX_RATIO",
                        )
                    try:
                        out.write(chunk)
                    except OSError as ex:
                        raise FileError(
                            source.path,
                            f"cannot be decompressed to {tempfile.gettempdir()} ({ex.strerror}); "
                            "set TMPDIR to a folder with room",
                        ) from None
        yield dataclasses.replace(source, data=temporary, unpacked=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


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
    if source.gzipped:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def _names(names: list[str], limit: int = 10) -> str:
    """Column names for a message: the first ``limit`` (each escaped and cut), then how many more."""
    shown = ", ".join(excerpt(n, quoted=False) for n in names[:limit])
    return shown + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")


def _header_problem(names: list[str], delimiter: str, ignore_extra: bool, strip: bool = True) -> str | None:
    """What is wrong with a header (CSV) or schema (Parquet, ``strip=False``: a column name is
    matched exactly, as the readers select columns by it), or None.

    A header that names no contract column is not quoted: it may be any first line of a file that
    is not a score file at all."""
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
    if not any(c in INPUT_COLUMN_NAMES for c in cleaned):
        spaced = sum(1 for c in cleaned if c != c.strip() and c.strip() in INPUT_COLUMN_NAMES)
        if not spaced:
            found = (
                f"the first line has {len(cleaned)} field(s)" if strip else f"it has {len(cleaned)} column(s)"
            )
            return (
                f"wrong or missing header: {found}, none of them a column of the contract; "
                f"expected a header row with: {', '.join(INPUT_COLUMN_NAMES)}"
            )
    if duplicated:
        return f"the header repeats columns: {_names(duplicated)}"
    if missing:
        spaced_names = [excerpt(c) for c in cleaned if c != c.strip() and c.strip() in missing]
        if spaced_names:
            return (
                f"column names have surrounding spaces: {', '.join(spaced_names[:10])}; "
                "rename them to the contract's names"
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
    with _open(source) as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if source.gzipped else raw  # type: ignore[assignment]
        try:
            head = stream.read(HEADER_MAX_BYTES)
        except (OSError, EOFError) as ex:
            raise FileError(source.path, _gzip_problem(ex)) from None
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
        raise _not_utf8(source.path, first, ex, row=0, column=None) from None
    if text.count('"') % 2:
        # the parser would read the header on into the next lines
        raise FileError(source.path, "the header has an unterminated quote", row=0)
    try:
        return next(csv.reader([text], delimiter=delimiter), []), rest
    except csv.Error as ex:
        raise FileError(source.path, f"the header cannot be parsed as CSV ({ex})", row=0) from None


def _record_numbers(start: int, count: int, skipped: np.ndarray) -> np.ndarray:
    """Numbers of ``count`` parsed records from ``start`` on, jumping over ``skipped`` (sorted:
    the records the parser rejected)."""
    window = skipped[(skipped >= start) & (skipped < start + count + len(skipped))]
    candidates = np.arange(start, start + count + len(window), dtype=np.int64)
    if len(window):
        candidates = candidates[~np.isin(candidates, window)]
    return candidates[:count]


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
                    raise _not_utf8(source.path, value, ex, row=int(rows[i]), column=name) from None
            raise
    return pa.Table.from_arrays(columns, names=table.column_names)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _has_line_break(column: pa.ChunkedArray) -> bool:
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is not None:
            text = memoryview(data).tobytes()  # one copy, then memchr-fast searches
            if b"\n" in text or b"\r" in text:
                return True
    return False


@dataclass
class _Record:
    """A record that takes its own rejected rows: rejected by the parser, or parsed but spanning
    several lines. ``record`` counts the parser's records after the header from 1; ``kind`` is
    "fields" (a wrong number of fields), "quote" (an unterminated quote) or "break" (a value with
    a line break in a record of the right number of fields)."""

    record: int
    text: str
    kind: str
    lines: int = 1
    reason: str = ""


def _rejected_record(record: int, text: str, expected: int, actual: int) -> _Record | None:
    """A record the parser rejected (wrong number of fields), or None for a blank line."""
    lines = len(_LINE_BREAK.split(text))
    if lines > 1:
        return _Record(record, text, "quote", lines)
    if not text.strip():
        return None
    if text.count('"') % 2:
        return _Record(
            record,
            text,
            "quote",
            reason=(
                f"unterminated quote: the line ends inside a quoted value (expected {expected} fields, "
                f"found {actual})"
            ),
        )
    return _Record(record, text, "fields", reason=f"expected {expected} fields, found {actual}")


class _CsvRows:
    """Row numbers of a CSV file: one per line.

    The parser counts records; a quoted value may run over line breaks, so one record can cover
    several lines (an unterminated quote takes the lines after it along). Each line gets its own
    row number, and a record over several lines is quarantined as one rejected row per line it
    covers, each naming the whole range, so the lines' rows neither vanish nor shift the rows after.
    """

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        # records the parser rejected and that are not numbered yet, in record order: (record,
        # text, expected fields, found fields)
        self.pending: list[tuple[int, str, int, int]] = []
        self.next_record = 1  # the first record not numbered yet
        self.extra_lines = 0  # lines beyond one per record, of the records numbered so far

    def on_invalid(self, row: Any) -> str:
        number = int(row.number) - 1 if row.number is not None and row.number > 0 else None
        if number is None:  # the parser always knows it without threads; keep the order anyway
            number = self.pending[-1][0] + 1 if self.pending else self.next_record
        self.pending.append((number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    def row_of(self, record: int) -> int:
        """The row number of a record not numbered yet, assuming no multi-line record before it
        (for messages about the part of the file the parser could not return)."""
        pending = sum(len(_LINE_BREAK.split(text)) - 1 for n, text, _, _ in self.pending if n < record)
        return record + self.extra_lines + pending

    def number(self, table: pa.Table, final: bool = False) -> tuple[pa.Table, np.ndarray, Rejected]:
        """Row numbers for a batch of parsed records (binary columns, every column of the header),
        and the rejected rows known up to its last record (all of them when ``final``). Blank
        records and records that cover several lines leave the table."""
        skipped = np.array([n for n, _, _, _ in self.pending], dtype=np.int64)
        records = _record_numbers(self.next_record, table.num_rows, skipped)
        if table.num_rows:
            self.next_record = int(records[-1]) + 1
        # the parser's rejected records up to this batch's last one (later ones, parsed ahead,
        # wait for their batch: a multi-line record of that batch may come before them)
        taken = len(self.pending) if final else int(np.searchsorted(skipped, self.next_record - 1))
        events = [e for e in (_rejected_record(*p) for p in self.pending[:taken]) if e is not None]
        del self.pending[:taken]
        keep = np.ones(table.num_rows, dtype=bool)
        if table.num_rows and pc.min(pc.binary_length(table.column(0))).as_py() == 0:
            # An empty line comes as a record of empty values (the parser counts it, so the rows
            # after it keep the numbers of their lines), and so does a line of delimiters only:
            # neither is a row. (Every column of the header is read, so data in a column
            # --ignore-extra-columns drops still makes a row.)
            blank = np.ones(table.num_rows, dtype=bool)
            for name in table.column_names:
                blank &= np.asarray(pc.equal(pc.binary_length(table.column(name)), 0))
            keep = ~blank
        if any(_has_line_break(table.column(n)) for n in table.column_names):
            # parsed records with a line break inside a value: rows of their own, rejected
            breaks = np.zeros(table.num_rows, dtype=np.int64)
            for name in table.column_names:
                column = table.column(name)
                breaks += np.asarray(
                    pc.subtract(
                        pc.add(pc.count_substring(column, "\n"), pc.count_substring(column, "\r")),
                        pc.count_substring(column, "\r\n"),
                    ).fill_null(0)
                )
            for index in np.flatnonzero(breaks * keep).tolist():
                fields = [table.column(n)[index].as_py() or b"" for n in table.column_names]
                text = self.delimiter.join(f.decode("utf-8", "backslashreplace") for f in fields)
                events.append(_Record(int(records[index]), text, "break", int(breaks[index]) + 1))
                keep[index] = False
            events.sort(key=lambda e: e.record)
        event_records = np.array([e.record for e in events], dtype=np.int64)
        extra = np.array([e.lines - 1 for e in events], dtype=np.int64)
        before = np.concatenate([[0], np.cumsum(extra)])  # extra lines of the events before each
        rows = records + self.extra_lines + before[np.searchsorted(event_records, records, side="left")]
        rejected = Rejected()
        for i, event in enumerate(events):
            self._reject(rejected, event, event.record + self.extra_lines + int(before[i]))
        self.extra_lines += int(before[-1])
        if not keep.all():
            table, rows = table.filter(pa.array(keep)), rows[keep]
        return table.select(list(INPUT_COLUMN_NAMES)), rows, rejected

    @staticmethod
    def _reject(rejected: Rejected, event: _Record, first: int) -> None:
        lines = [(first + i, line) for i, line in enumerate(_LINE_BREAK.split(event.text)) if line.strip()]
        if len(lines) <= 1:
            # one line with data (a quote left open at the end of the file takes only the final
            # line break along)
            row, text = lines[0] if lines else (first, event.text)
            reason = event.reason or "unterminated quote: the line ends inside a quoted value"
            rejected.add(row, reason, text[:RAW_ROW_CHARS])
            return
        low, high = lines[0][0], lines[-1][0]
        taken = f"row {low + 1}" if high == low + 1 else f"rows {low + 1}-{high}"
        if event.kind == "quote":
            reason = (
                f"rows {low}-{high}: unterminated quote: a quoted value of row {low} runs on over "
                f"{taken}; a CSV value cannot span lines (close the quote and load the file again)"
            )
        else:
            reason = (
                f"rows {low}-{high}: a quoted value runs over {high - low + 1} lines (an unterminated "
                "quote, or a line break inside a value); a CSV value cannot span lines"
            )
        for row, line in lines:  # blank lines are not rows, here as anywhere
            rejected.add(row, reason, line[:RAW_ROW_CHARS])


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
    problem = _header_problem(names, delimiter, ignore_extra)
    if problem:
        raise FileError(source.path, problem, row=0)
    if not rows_follow:
        return  # only a header (without a final line break): no rows
    header = [n.strip() for n in names]
    numbering = _CsvRows(delimiter)
    quiet = _QuietRowDecodeErrors()

    handle = _open(source)
    stream = _open_text_stream(source, handle, tally)
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
            raise FileError(source.path, _gzip_problem(ex)) from None
        raise FileError(source.path, f"cannot be parsed as CSV: {_parse_problem(message)}") from None
    finally:
        stream.close()
        handle.close()


def _text_schema() -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in INPUT_COLUMN_NAMES])


# -- JSON lines -------------------------------------------------------------------------------


def _readline_capped(stream: IO[bytes]) -> tuple[bytes, int]:
    """The next line with its line break (``b""`` at the end) and 0; for a line longer than
    JSONL_MAX_LINE_BYTES, its first RAW_ROW_CHARS bytes and its length (without the line break):
    the line is read on to its end without being kept."""
    raw = stream.readline(JSONL_MAX_LINE_BYTES + 2)
    content = len(raw) - _line_break_length(raw)
    if content <= JSONL_MAX_LINE_BYTES:
        return raw, 0
    size, last = len(raw), raw
    if not raw.endswith(b"\n"):
        while chunk := stream.readline(1 << 20):
            size += len(chunk)
            last = last[-1:] + chunk
            if chunk.endswith(b"\n"):
                break
    return raw[:RAW_ROW_CHARS], size - _line_break_length(last)


def _line_break_length(line: bytes) -> int:
    return 2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0


def read_jsonl(
    source: FileSource, ignore_extra: bool = False, tally: BytesRead | None = None
) -> Iterator[SourceBatch]:
    handle = _open(source)
    stream = _open_text_stream(source, handle, tally)
    known = set(INPUT_COLUMN_NAMES)
    try:
        columns: dict[str, list[Any]] = {n: [] for n in INPUT_COLUMN_NAMES}
        appends = [(n, columns[n].append) for n in INPUT_COLUMN_NAMES]
        numbers: list[int] = []
        rejected = Rejected()
        line_number = 0
        first_row = True
        while True:
            raw, too_long = _readline_capped(stream)
            if not raw:
                break
            line_number += 1
            if too_long:
                rejected.add(
                    line_number,
                    f"the line is too long: {too_long:,} bytes, the limit is "
                    f"{JSONL_MAX_LINE_BYTES >> 20} MiB (a JSON line holds one row)",
                    raw.decode("utf-8", "backslashreplace"),
                )
                first_row = False
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as ex:
                raise _jsonl_not_utf8(source.path, raw, ex, line_number) from None
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
                rejected.add(line_number, problem, stripped[:RAW_ROW_CHARS])
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
        if source.gzipped:
            raise FileError(source.path, _gzip_problem(ex)) from None
        raise FileError(source.path, f"cannot be read: {getattr(ex, 'strerror', None) or ex}") from None
    finally:
        stream.close()
        handle.close()


def _jsonl_not_utf8(
    path: str | os.PathLike[str], raw: bytes, error: UnicodeDecodeError, row: int
) -> FileError:
    """Invalid UTF-8 in a JSON line: the column whose value holds it, when the line parses."""
    loose = raw.decode("utf-8", "surrogateescape")  # each bad byte one lone surrogate
    try:
        record = _JSON_DECODER.decode(loose.strip().lstrip("\ufeff"))
    except (ValueError, RecursionError):
        record = None
    if isinstance(record, dict):
        for name in INPUT_COLUMN_NAMES:
            value = record.get(name)
            text = value if isinstance(value, str) else None
            if text is not None and any("\udc80" <= ch <= "\udcff" for ch in text):
                value_bytes = text.encode("utf-8", "surrogateescape")
                try:
                    value_bytes.decode("utf-8")
                except UnicodeDecodeError as ex:
                    return _not_utf8(path, value_bytes, ex, row=row, column=name)
    return _not_utf8(path, raw, error, row=row, column=None)


class _DuplicateFieldError(ValueError):
    pass


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a name given twice is an error (json.loads would keep the last value)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        names = [name for name, _ in pairs]
        raise _DuplicateFieldError(next(name for i, name in enumerate(names) if name in names[:i]))
    return record


class _JsonNumber(str):
    """A JSON number as written in the file ('85', '85.0', '1e2', '-0.0'): the rules check it as
    they check the same text in a CSV file (85.0 is not a whole number in either)."""

    __slots__ = ()


# \ud800-\udfff escapes: json.loads accepts an unpaired one, which no UTF-8 text can hold
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_KINDS = {bool: "boolean", dict: "object", list: "array"}
# columns whose JSON value must be a string or a number (dimension_scores may be an object)
_JSON_SCALAR_COLUMNS = tuple(n for n in INPUT_COLUMN_NAMES if n != "dimension_scores")
_NOT_SCALAR = frozenset(_JSON_KINDS)


# one decoder for every line (json.loads with a hook builds a new one per call); numbers (and
# NaN / Infinity, which Python's json accepts) stay the text they are in the file
_JSON_DECODER = json.JSONDecoder(
    object_pairs_hook=_json_object, parse_int=_JsonNumber, parse_float=_JsonNumber, parse_constant=_JsonNumber
)


def _parse_json_line(text: str, known: set[str], ignore_extra: bool) -> tuple[str | None, dict[str, Any]]:
    try:
        record = _JSON_DECODER.decode(text)
    except json.JSONDecodeError as ex:
        return f"not valid JSON: {ex.msg} at character {ex.pos + 1}", {}
    except RecursionError:
        return "not valid JSON: nested too deeply", {}
    except _DuplicateFieldError as ex:
        return f"field {excerpt(str(ex), 64)} appears more than once in an object", {}
    if not isinstance(record, dict):
        kind = "number" if isinstance(record, _JsonNumber) else type(record).__name__
        return f"expected a JSON object, found {kind}", {}
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as ex:
            return f"not valid JSON text: an unpaired surrogate escape \\u{ord(ex.object[ex.start]):04x}", {}
    extra = [k for k in record if k not in known]
    if extra and not ignore_extra:
        return f"unexpected fields: {_names(extra)} (pass --ignore-extra-columns to drop them)", {}
    if not _NOT_SCALAR.isdisjoint(map(type, map(record.get, _JSON_SCALAR_COLUMNS))):
        name = next(n for n in _JSON_SCALAR_COLUMNS if type(record.get(n)) in _NOT_SCALAR)
        return f"{name} is a JSON {_JSON_KINDS[type(record[name])]}; expected a string or a number", {}
    dimensions = record.get("dimension_scores")
    if isinstance(dimensions, dict | list):
        try:
            record["dimension_scores"] = _json_text(dimensions)
        except RecursionError:
            return "not valid JSON: nested too deeply", {}
    return None, record


def _json_text(value: Any) -> str:
    """JSON text of a parsed value, numbers as written in the file."""
    if isinstance(value, _JsonNumber):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {_json_text(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return json.dumps(value)  # true, false, null


def _json_value_as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)  # _JsonNumber: the number as written
    if isinstance(value, bool):
        return "true" if value else "false"
    return _json_text(value)


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


def _problem_text(error: BaseException) -> str:
    """An error's first line, cut: Arrow's messages name what is wrong, not the data."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:200]


def parquet_file(source: FileSource) -> pq.ParquetFile:
    if source.gzipped:
        raise ValueError("decompress a .parquet.gz first (readers.unpacked)")
    path = _regular_path(source)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError, EOFError) as ex:
        raise FileError(source.path, f"is not a readable Parquet file ({_problem_text(ex)})") from None


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
                        raise _not_utf8(
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


# Characters that file() would take as a glob: such paths are read through pyarrow.
_GLOB_CHARACTERS = set("*?{}[]")
# Dates the engine's Date32 holds (it clamps others, so their text would differ from pyarrow's).
_EPOCH = dt.date(1970, 1, 1)
_DATE32_MIN, _DATE32_MAX = ((dt.date(y, m, d) - _EPOCH).days for y, m, d in ((1900, 1, 1), (2299, 12, 31)))


def engine_parquet_columns(source: FileSource, ignore_extra: bool = False) -> list[str] | None:
    """SQL over the engine's ``file(source.read_path, Parquet)`` giving the contract columns as
    the same text :func:`read_parquet` + ``as_text`` give, or None when the file must be read
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


def parquet_rows(source: FileSource) -> int:
    return int(parquet_file(source).metadata.num_rows)
