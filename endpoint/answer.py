"""What ``scores serve`` sends back for a statement that ran: the engine's output, its format and
ClickHouse's summary of the query, as the headers and the (optionally compressed) body of an HTTP
answer."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

DEFAULT_FORMAT = "TabSeparated"


@dataclass
class Answer:
    output: bytes
    format: str
    summary: dict[str, str]


def http_answer(
    answer: Answer, query_id: str, params: dict[str, str], accept: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a successful answer: compressed when the client asks
    (``enable_http_compression=1`` and an encoding it accepts)."""
    headers = {
        "Content-Type": "text/plain; charset=UTF-8"
        if answer.format.startswith(("TabSeparated", "TSV", "CSV", "Pretty"))
        else "application/octet-stream",
        "X-ClickHouse-Format": answer.format,
        "X-ClickHouse-Query-Id": query_id,
        "X-ClickHouse-Summary": json.dumps(answer.summary),
    }
    output = answer.output
    if params.get("enable_http_compression") in ("1", "true"):
        output, encoding = _compress(output, accept)
        if encoding:
            headers["Content-Encoding"] = encoding
    return output, headers


def summary(result: Any, output_bytes: int) -> dict[str, str]:
    def number(method: str) -> int:
        function = getattr(result, method, None)
        try:
            return int(function()) if callable(function) else 0
        except Exception:
            return 0

    elapsed = getattr(result, "elapsed", None)
    seconds = float(elapsed()) if callable(elapsed) else 0.0
    return {
        "read_rows": str(number("rows_read")),
        "read_bytes": str(number("bytes_read")),
        "written_rows": str(number("rows_written")),
        "written_bytes": str(number("bytes_written")),
        "total_rows_to_read": str(number("rows_read")),
        "result_rows": "0",
        "result_bytes": str(output_bytes),
        "elapsed_ns": str(int(seconds * 1e9)),
    }


def _compress(body: bytes, accept: str) -> tuple[bytes, str | None]:
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    for encoding in offered:
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.compress(body)), "lz4"
        if encoding == "gzip":
            return gzip.compress(body, compresslevel=3), "gzip"
        if encoding == "deflate":
            return zlib.compress(body, 3), "deflate"
    return body, None
