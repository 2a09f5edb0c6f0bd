"""A file that cannot be loaded (:class:`FileError`), and how messages name files and quote them.

Readers check what makes a whole file unusable and raise :class:`FileError` naming the file (and
row and column where there is one): missing or unreadable file, not a regular file (a FIFO, a
device, a socket), empty file, content that is not what the extension says, wrong or missing
header, wrong delimiter, extra columns, bad encoding, truncated gzip, a .parquet.gz that
decompresses beyond its limit, Parquet columns of the wrong type. Problems of single rows (too few
or too many fields, an unterminated quote, invalid JSON, a JSON line over its length limit) become
rejected rows for the quarantine; values are checked in validation.

Messages quote no more of a file than needed: they name the file, row, column or byte and the kind
of problem. They show a piece of the file only where it is clearly the file's data (names in a
header that has contract columns, the value with invalid UTF-8), escaped and at most
``EXCERPT_CHARS`` characters; never the bytes of a file that is not what its name says.
"""

import gzip
import os
import re

# Most characters of a file a message shows (a value with invalid UTF-8, header names).
EXCERPT_CHARS = 40
# Most characters of a malformed line kept as its raw_row in the quarantine.
RAW_ROW_CHARS = 10_000

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


def not_utf8(
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


def gzip_problem(error: BaseException) -> str:
    """What is wrong with gzip data, without the bytes Python's message quotes."""
    if isinstance(error, gzip.BadGzipFile):
        return "the gzip data is corrupt (not gzip data where a gzip member should start)"
    if isinstance(error, EOFError):
        return "the gzip data is truncated (it ends before the end of the compressed stream)"
    return "the gzip data is corrupt or truncated"


def name_list(names: list[str], limit: int = 10) -> str:
    """Column names for a message: the first ``limit`` (each escaped and cut), then how many more."""
    shown = ", ".join(excerpt(n, quoted=False) for n in names[:limit])
    return shown + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")
