"""Request bodies: framing checked, size bounded before and after decompression, spooled to disk.

* ``Content-Length`` must be a plain decimal number; a body longer than the limit is refused
  before it is read. ``Transfer-Encoding: chunked`` sizes must be plain hexadecimal; the running
  total is checked against the limit chunk by chunk. Both headers at once are refused (request
  smuggling).
* The limit counts decompressed bytes: a compressed body is inflated in pieces, each bounded, so
  a small gzip bomb stops at the limit instead of filling memory.
* Bodies larger than 16 MiB go to a temporary file, so a large INSERT costs disk, not memory.
* Reading a body has a deadline: a client that stops sending holds a thread for at most that long.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from http import HTTPStatus
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from endpoint.errors import (
    BAD_ARGUMENTS,
    CANNOT_DECOMPRESS,
    MEMORY_LIMIT_EXCEEDED,
    TIMEOUT_EXCEEDED,
    QueryError,
)

SPOOL_BYTES = 16 << 20
PIECE = 1 << 16  # bytes read from the socket, and produced by a decompressor, at a time
MAX_CHUNK_LINE = 1024
DRAIN_BYTES = 16 << 20  # the most of a refused body read before answering


class Body:
    """A request body after decompression."""

    def __init__(self) -> None:
        self.file: Any = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by close())
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def read(self, offset: int = 0, limit: int | None = None) -> bytes:
        self.file.seek(offset)
        return bytes(self.file.read(-1 if limit is None else limit))

    def copy_to(self, target: IO[bytes], offset: int = 0) -> None:
        self.file.seek(offset)
        while piece := self.file.read(1 << 20):
            target.write(piece)

    def close(self) -> None:
        self.file.close()


def _too_large(limit: int) -> QueryError:
    return QueryError(
        MEMORY_LIMIT_EXCEEDED,
        f"Request body exceeds the limit of {limit} bytes (after decompression; max_request_bytes)",
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    )


def _bad(text: str) -> QueryError:
    return QueryError(BAD_ARGUMENTS, text, HTTPStatus.BAD_REQUEST)


def content_length(headers: Any) -> int | None:
    """The declared body length (None: no Content-Length); refuses anything but digits."""
    values = headers.get_all("Content-Length") or []
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].strip().isdigit() or not values[0].strip().isascii():
        raise _bad("invalid Content-Length")
    return int(values[0].strip())


def is_chunked(headers: Any) -> bool:
    encoding = ",".join(headers.get_all("Transfer-Encoding") or []).strip().lower()
    if not encoding:
        return False
    if encoding != "chunked":
        raise _bad(f"unsupported Transfer-Encoding: {encoding}")
    return True


class _Decoder:
    """Inflates a Content-Encoding in bounded pieces."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._object: Any = None
        if encoding == "gzip":
            self._object = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._object = zlib.decompressobj()
        elif encoding == "lz4":
            import lz4.frame

            self._object = lz4.frame.LZ4FrameDecompressor()
        elif encoding == "zstd":
            self._object = _zstd_decompressor()
        elif encoding not in ("", "identity"):
            raise QueryError(
                BAD_ARGUMENTS,
                f"Content-Encoding {encoding} is not supported (use gzip, deflate, lz4 or zstd)",
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )

    def feed(self, data: bytes, emit: Callable[[bytes], None]) -> None:
        if self._object is None:
            emit(data)
            return
        try:
            if self.encoding in ("gzip", "deflate"):
                while data:
                    emit(self._object.decompress(data, PIECE))
                    data = self._object.unconsumed_tail
            else:
                emit(self._object.decompress(data, max_length=PIECE))
                while not getattr(self._object, "needs_input", True) and not getattr(
                    self._object, "eof", False
                ):
                    emit(self._object.decompress(b"", max_length=PIECE))
        except QueryError:
            raise
        except Exception as ex:
            raise QueryError(CANNOT_DECOMPRESS, f"cannot decompress the {self.encoding} body: {ex}") from None

    def finish(self) -> None:
        if self.encoding in ("gzip", "deflate") and self._object is not None and not self._object.eof:
            raise QueryError(CANNOT_DECOMPRESS, f"the {self.encoding} body is truncated")
        if (
            self.encoding in ("lz4", "zstd")
            and self._object is not None
            and not getattr(self._object, "eof", True)
        ):
            raise QueryError(CANNOT_DECOMPRESS, f"the {self.encoding} body is truncated")


def _zstd_decompressor() -> Any:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]  # Python 3.14
    except ImportError:
        try:
            from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            raise QueryError(
                BAD_ARGUMENTS,
                "Content-Encoding zstd is not available here",
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            ) from None
    return zstd.ZstdDecompressor()


def _drain(rfile: IO[bytes], count: int, deadline: float) -> None:
    while count > 0 and time.monotonic() < deadline:
        piece = rfile.read(min(count, PIECE))
        if not piece:
            return
        count -= len(piece)


def read_body(rfile: IO[bytes], headers: Any, limit: int, deadline_seconds: float) -> Body:
    """Read, check and decompress the body of a request; QueryError on any problem."""
    chunked = is_chunked(headers)
    length = content_length(headers)
    if chunked and length is not None:
        raise _bad("a request may not have both Content-Length and Transfer-Encoding")
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    decoder = _Decoder(encoding)
    body = Body()
    deadline = time.monotonic() + deadline_seconds

    def emit(data: bytes) -> None:
        if body.size + len(data) > limit:
            raise _too_large(limit)
        body.write(data)

    def receive(count: int) -> bytes:
        if time.monotonic() > deadline:
            raise QueryError(
                TIMEOUT_EXCEEDED, "the request body took too long to arrive", HTTPStatus.REQUEST_TIMEOUT
            )
        data = rfile.read(count)
        if len(data) < count:
            raise _bad("the request body ended before its declared length")
        return data

    try:
        if chunked:
            wire = 0
            while True:
                line = rfile.readline(MAX_CHUNK_LINE)
                size_text = line.split(b";", 1)[0].strip()
                if (
                    not line.endswith(b"\n")
                    or not size_text
                    or any(c not in b"0123456789abcdefABCDEF" for c in size_text)
                ):
                    raise _bad("invalid chunk size in a chunked request body")
                size = int(size_text, 16)
                if size == 0:
                    while rfile.readline(MAX_CHUNK_LINE).strip():  # trailers
                        pass
                    break
                wire += size
                if wire > limit:
                    raise _too_large(limit)
                while size > 0:
                    piece = receive(min(size, PIECE))
                    size -= len(piece)
                    decoder.feed(piece, emit)
                if rfile.readline(MAX_CHUNK_LINE).strip():
                    raise _bad("a chunk of the request body is longer than its size")
        elif length:
            if length > limit:
                # read (and drop) a modest excess, so that a client still sending its body can
                # read the answer; a larger one is cut off with the connection
                _drain(rfile, min(length, DRAIN_BYTES), deadline)
                raise _too_large(limit)
            left = length
            while left > 0:
                piece = receive(min(left, PIECE))
                left -= len(piece)
                decoder.feed(piece, emit)
        decoder.finish()
    except BaseException:
        body.close()
        raise
    return body
