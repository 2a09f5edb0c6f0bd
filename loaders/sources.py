"""A score file as the readers take it (:class:`FileSource`), the batches they give
(:class:`SourceBatch`), and opening it: regular files only, opened once for a whole load.

Row numbers count data rows from 1. CSV: one line is one row, row N is line N + 1 (the header is
line 1, row 0); a value cannot span lines, so a quoted value that runs over several lines (an
unterminated quote) is quarantined as one rejected row per line it covers. JSON lines: row = line
number. Blank lines are not rows but keep their number. Parquet: the N-th row of the file.
"""

import contextlib
import dataclasses
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from loaders.file_errors import (
    FileError,
    display_name,
)
from loaders.validation import Rejected


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


def open_error(path: str | os.PathLike[str], error: OSError) -> FileError:
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
        raise open_error(shown, ex) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(shown, mode)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as ex:
        raise open_error(shown, ex) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(shown, mode)
        os.set_blocking(fd, True)  # a regular file: plain blocking reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_source(source: FileSource) -> BinaryIO:
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


def regular_path(source: FileSource) -> str:
    """read_path for readers that open it themselves (pyarrow), checked to be a regular file."""
    with open_source(source):
        pass
    return source.read_path
