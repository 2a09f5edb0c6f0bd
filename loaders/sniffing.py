"""The bytes of a file are what its name says (Parquet, gzip, text): sniffed from its head."""

import gzip

from loaders.file_errors import FileError, gzip_problem
from loaders.sources import FileSource, open_source


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
    with open_source(source) as handle:
        head = handle.read(8192)
    if not head:
        raise FileError(path, "the file is empty")
    kind = _sniff(head)
    if source.gzipped:
        if kind != "gzip":
            raise FileError(path, f"named .gz but is not gzip-compressed (it looks like {_KIND_NAMES[kind]})")
        try:
            with open_source(source) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                head = stream.read(8192)
        except (OSError, EOFError) as ex:
            raise FileError(path, gzip_problem(ex)) from None
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
