"""A file's bytes as the readers take them: counted (progress), decompressed as a stream (CSV,
JSON lines) or, a .parquet.gz, to a temporary file within its decompression limit."""

import contextlib
import dataclasses
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from loaders.config import gzip_max_ratio
from loaders.file_errors import (
    FileError,
    gzip_problem,
)
from loaders.sources import FileSource, open_source


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


def open_text_stream(source: FileSource, handle: IO[bytes], tally: BytesRead | None) -> IO[bytes]:
    buffered = io.BufferedReader(_CountingReader(handle, tally or BytesRead()), buffer_size=1 << 20)
    if source.gzipped:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


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
        with os.fdopen(fd, "wb") as out, open_source(source) as raw:
            limit = os.fstat(raw.fileno()).st_size * ratio
            written = 0
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                while True:
                    try:
                        chunk = stream.read(1 << 20)
                    except (OSError, EOFError) as ex:
                        raise FileError(source.path, gzip_problem(ex)) from None
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
