"""Read a JSON-lines file (gzip accepted) as Arrow batches of text with row numbers: one JSON
object per line, numbers kept as written."""

import json
import os
import re
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa

from loaders.file_errors import RAW_ROW_CHARS, FileError, excerpt, gzip_problem, name_list, not_utf8
from loaders.schema import INPUT_COLUMN_NAMES
from loaders.sources import FileSource, SourceBatch, open_source
from loaders.streams import BytesRead, open_text_stream
from loaders.validation import Rejected

JSONL_BATCH_ROWS = 100_000
# The longest JSON line, without its line break. A valid row is a few KiB at most (ids of 64
# characters, names of 200, dimension_scores of 4 KiB); a longer line is quarantined unread.
JSONL_MAX_LINE_BYTES = 1 << 20


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
    handle = open_source(source)
    stream = open_text_stream(source, handle, tally)
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
            raise FileError(source.path, gzip_problem(ex)) from None
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
                    return not_utf8(path, value_bytes, ex, row=row, column=name)
    return not_utf8(path, raw, error, row=row, column=None)


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
        return f"unexpected fields: {name_list(extra)} (pass --ignore-extra-columns to drop them)", {}
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
