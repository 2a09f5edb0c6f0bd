"""Row numbers of a CSV file's parsed records, one per line, and the rejected rows of records
the parser refused or that run over several lines (see loaders.sources for the numbering)."""

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders.file_errors import RAW_ROW_CHARS
from loaders.schema import INPUT_COLUMN_NAMES
from loaders.validation import Rejected


def _record_numbers(start: int, count: int, skipped: np.ndarray) -> np.ndarray:
    """Numbers of ``count`` parsed records from ``start`` on, jumping over ``skipped`` (sorted:
    the records the parser rejected)."""
    window = skipped[(skipped >= start) & (skipped < start + count + len(skipped))]
    candidates = np.arange(start, start + count + len(window), dtype=np.int64)
    if len(window):
        candidates = candidates[~np.isin(candidates, window)]
    return candidates[:count]


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


class CsvRows:
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
