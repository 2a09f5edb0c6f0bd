"""Row validation, vectorised with Arrow compute (no Python loop over rows).

:func:`validate` takes a batch whose columns are text (CSV, JSON lines) or typed (Parquet, the
generator) and splits it into rows that land, typed as :data:`loaders.schema.INPUT_SCHEMA`, and
rejected rows with the first column that failed and why. The checks:

* every column of the contract is present (checked per file by the readers);
* ids present, at most 64 characters; names at most 200 characters; no control characters;
* state_id two letters; subject known (seeds/subjects.csv); test_id known (seeds/tests.csv) and of
  the row's subject;
* grade integer 3-12; school_year integer 2000-2100; test_date a real ISO date (YYYY-MM-DD) inside
  the school year (1 July of the previous year to 30 June);
* overall_score integer 0-100; overall_performance_level integer 1-4;
* dimension_scores empty or a flat JSON object of "name": number with numbers 0-100, names without
  quotes or backslashes, at most 4 KiB.

Duplicate keys inside one load are found after landing, in SQL (see loaders.landing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders.reference import Reference
from loaders.schema import INPUT_COLUMNS, INPUT_SCHEMA

ID_MAX = 64
NAME_MAX = 200
JSON_MAX = 4096
_NUMBER_0_100 = r"(?:100(?:\.0+)?|[0-9]{1,2}(?:\.[0-9]+)?)"
_PAIR = r'"[^"\\\x00-\x1f]{1,64}"\s*:\s*' + _NUMBER_0_100
DIMENSIONS_RE = r"^\s*\{\s*(?:" + _PAIR + r"(?:\s*,\s*" + _PAIR + r")*)?\s*\}\s*$"
INTEGER_RE = r"^\s*[+]?[0-9]{1,6}\s*$"
CONTROL_RE = r"[\x00-\x1f\x7f]"
EPOCH = dt.date(1970, 1, 1)
Pick = Callable[[pa.Array], pa.Array]
YEAR_MIN, YEAR_MAX = 2000, 2100
_YEAR_STARTS = pa.array([dt.date(y - 1, 7, 1) for y in range(YEAR_MIN, YEAR_MAX + 1)], pa.date32())
_YEAR_ENDS = pa.array([dt.date(y, 6, 30) for y in range(YEAR_MIN, YEAR_MAX + 1)], pa.date32())


@dataclass
class Rejected:
    """Rows that failed validation: parallel lists."""

    row_numbers: list[int]
    columns: list[str]
    reasons: list[str]
    raw_rows: list[str]

    def __len__(self) -> int:
        return len(self.row_numbers)


@dataclass
class Validated:
    landed: pa.Table  # INPUT_SCHEMA + _row_number; the landing step adds _batch_id
    rejected: Rejected


class _Checker:
    """Accumulates the first failure (column, reason) of each row."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.reason: pa.Array = pa.nulls(length, pa.string())
        self.column: pa.Array = pa.nulls(length, pa.string())

    def fail(self, column: str, bad: pa.Array, reason: Callable[[Pick], pa.Array] | str) -> None:
        """Mark rows where ``bad`` is true (or null) that have not failed yet.

        ``reason`` is a message, or a function building the messages of the failing rows from
        ``pick(array)`` (the array restricted to those rows), so messages cost nothing on clean data.
        """
        bad = pc.fill_null(bad, True)
        if not pc.any(bad).as_py():
            return
        first = pc.and_(bad, pc.is_null(self.reason))
        if not pc.any(first).as_py():
            return
        if isinstance(reason, str):
            self.reason = pc.if_else(first, reason, self.reason)
        else:
            messages = reason(lambda array: pc.filter(array, first))
            self.reason = pc.replace_with_mask(self.reason, first, messages.cast(pa.string()))
        self.column = pc.if_else(first, column, self.column)

    @property
    def ok(self) -> pa.Array:
        return pc.is_null(self.reason)


def _as_text(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    if pa.types.is_dictionary(array.type):
        return array.cast(pa.string())
    return pc.cast(array, pa.string())


def _quoted(value: pa.Array) -> pa.Array:
    """The value as shown in messages: quoted, cut at 40 characters."""
    text = pc.fill_null(_as_text(value), "")
    short = pc.utf8_slice_codeunits(text, 0, 40)
    long = pc.greater(pc.utf8_length(text), 40)
    return pc.binary_join_element_wise("'", short, pc.if_else(long, "...'", "'"), "")


def _text_column(check: _Checker, name: str, values: pa.Array, required: bool, max_length: int) -> pa.Array:
    text = pc.utf8_trim_whitespace(pc.fill_null(_as_text(values), ""))
    if required:
        check.fail(name, pc.equal(pc.utf8_length(text), 0), f"{name} is missing")
    length = pc.utf8_length(text)
    too_long = pc.greater(length, max_length)
    check.fail(
        name,
        too_long,
        lambda p: pc.binary_join_element_wise(
            f"{name} is too long: ",
            pc.cast(p(length), pa.string()),
            f" characters, the limit is {max_length}",
            "",
        ),
    )
    return text


def _control_characters(check: _Checker, texts: dict[str, pa.Array]) -> None:
    """Reject control characters in text columns (a byte scan first, the regex only on a hit)."""
    for name, text in texts.items():
        data = text.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if ((raw < 0x20) | (raw == 0x7F)).any():
            check.fail(
                name, pc.match_substring_regex(text, CONTROL_RE), f"{name} contains control characters"
            )


def _integer_column(
    check: _Checker, name: str, values: pa.Array, low: int, high: int, out_type: pa.DataType
) -> pa.Array:
    if pa.types.is_integer(values.type):
        numbers = values.cast(pa.int64())
        missing = pc.is_null(numbers)
        check.fail(name, missing, f"{name} is missing")
    else:
        text = pc.utf8_trim_whitespace(pc.fill_null(_as_text(values), ""))
        missing = pc.equal(pc.utf8_length(text), 0)
        check.fail(name, missing, f"{name} is missing")
        well_formed = pc.match_substring_regex(text, INTEGER_RE)
        check.fail(
            name,
            pc.invert(well_formed),
            lambda p: pc.binary_join_element_wise(
                f"{name} ", _quoted(p(values)), f" is not a whole number between {low} and {high}", ""
            ),
        )
        numbers = pc.cast(pc.if_else(well_formed, text, pa.scalar(None, pa.string())), pa.int64())
    out_of_range = pc.or_(pc.less(numbers, low), pc.greater(numbers, high))
    check.fail(
        name,
        out_of_range,
        lambda p: pc.binary_join_element_wise(
            f"{name} ", pc.cast(p(numbers), pa.string()), f" is outside {low}-{high}", ""
        ),
    )
    safe = pc.if_else(pc.fill_null(out_of_range, True), pa.scalar(low, pa.int64()), numbers)
    return pc.cast(safe, out_type)


def _date_column(check: _Checker, name: str, values: pa.Array) -> pa.Array:
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        days = pc.cast(values, pa.date32())
        check.fail(name, pc.is_null(days), f"{name} is missing")
        return pc.fill_null(days, pa.scalar(EPOCH, pa.date32()))
    text = pc.utf8_trim_whitespace(pc.fill_null(_as_text(values), ""))
    check.fail(name, pc.equal(pc.utf8_length(text), 0), f"{name} is missing")
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2024-02-30 over to 2024-03-01: accept only dates that print back identically
    round_trip = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), text)
    bad = pc.invert(pc.fill_null(round_trip, False))
    check.fail(
        name,
        bad,
        lambda p: pc.binary_join_element_wise(
            f"{name} ", _quoted(p(values)), " is not a date in the form YYYY-MM-DD", ""
        ),
    )
    days = pc.cast(pc.if_else(bad, pa.scalar(None, parsed.type), parsed), pa.date32())
    return pc.fill_null(days, pa.scalar(EPOCH, pa.date32()))


def validate(
    batch: pa.Table,
    row_numbers: pa.Array,
    reference: Reference,
    raw_text: pa.Table | None = None,
    retained_from: int | None = None,
) -> Validated:
    """Validate one batch. ``batch`` has every contract column (text or typed).

    ``retained_from``: the oldest school year the warehouse keeps (older rows are rejected, since
    retention would drop them at once).
    """
    n = batch.num_rows
    check = _Checker(n)
    out: dict[str, pa.Array] = {}

    def col(name: str) -> pa.Array:
        return batch.column(name).combine_chunks()

    for c in INPUT_COLUMNS:
        if c.name.endswith("_id") and c.name not in ("state_id", "test_id"):
            out[c.name] = _text_column(check, c.name, col(c.name), True, ID_MAX)
        elif c.name.endswith("_name"):
            out[c.name] = _text_column(check, c.name, col(c.name), False, NAME_MAX)

    _control_characters(check, dict(out))

    state = pc.utf8_upper(_text_column(check, "state_id", col("state_id"), True, 2))
    check.fail(
        "state_id",
        pc.invert(pc.match_substring_regex(state, r"^[A-Z]{2}$")),
        lambda p: pc.binary_join_element_wise(
            "state_id ", _quoted(p(state)), " is not a two-letter state code", ""
        ),
    )
    out["state_id"] = state

    subject = pc.utf8_upper(_text_column(check, "subject", col("subject"), True, ID_MAX))
    known_subjects = pa.array(sorted(reference.subject_codes))
    check.fail(
        "subject",
        pc.invert(pc.is_in(subject, known_subjects)),
        lambda p: pc.binary_join_element_wise(
            "subject ",
            _quoted(p(subject)),
            f" is not a known subject ({', '.join(known_subjects.to_pylist())})",
            "",
        ),
    )
    out["subject"] = subject

    out["grade"] = _integer_column(check, "grade", col("grade"), 3, 12, pa.uint8())

    test_id = pc.utf8_upper(_text_column(check, "test_id", col("test_id"), True, ID_MAX))
    test_subject = reference.test_subject
    known_tests = pa.array(sorted(test_subject))
    check.fail(
        "test_id",
        pc.invert(pc.is_in(test_id, known_tests)),
        lambda p: pc.binary_join_element_wise(
            "test_id ", _quoted(p(test_id)), " is not a known test (seeds/tests.csv)", ""
        ),
    )
    expected_subject = pc.take(
        pa.array([test_subject[t] for t in known_tests.to_pylist()]),
        pc.fill_null(pc.index_in(test_id, known_tests), 0),
    )
    check.fail(
        "test_id",
        pc.not_equal(expected_subject, subject),
        lambda p: pc.binary_join_element_wise(
            "test_id ",
            _quoted(p(test_id)),
            " belongs to subject ",
            p(expected_subject),
            ", not ",
            p(subject),
            "",
        ),
    )
    out["test_id"] = test_id

    year = _integer_column(check, "school_year", col("school_year"), YEAR_MIN, YEAR_MAX, pa.uint16())
    out["school_year"] = year
    if retained_from is not None:
        check.fail(
            "school_year",
            pc.less(year, retained_from),
            lambda p: pc.binary_join_element_wise(
                "school_year ",
                pc.cast(p(year), pa.string()),
                f" is past the retention period (kept from {retained_from})",
                "",
            ),
        )
    test_date = _date_column(check, "test_date", col("test_date"))
    # the school year runs from 1 July of the previous calendar year to 30 June
    offset = pc.subtract(pc.cast(year, pa.int32()), YEAR_MIN)
    year_start = pc.take(_YEAR_STARTS, offset)
    year_end = pc.take(_YEAR_ENDS, offset)
    outside = pc.or_(pc.less(test_date, year_start), pc.greater(test_date, year_end))
    check.fail(
        "test_date",
        outside,
        lambda p: pc.binary_join_element_wise(
            "test_date ",
            pc.cast(p(test_date), pa.string()),
            " is outside school year ",
            pc.cast(p(year), pa.string()),
            " (1 July to 30 June)",
            "",
        ),
    )
    out["test_date"] = test_date

    out["overall_score"] = _integer_column(check, "overall_score", col("overall_score"), 0, 100, pa.uint8())
    out["overall_performance_level"] = _integer_column(
        check, "overall_performance_level", col("overall_performance_level"), 1, 4, pa.uint8()
    )

    dims = pc.utf8_trim_whitespace(pc.fill_null(_as_text(col("dimension_scores")), ""))
    dims = pc.if_else(pc.equal(pc.utf8_length(dims), 0), "{}", dims)
    dims_length = pc.utf8_length(dims)
    check.fail(
        "dimension_scores",
        pc.greater(dims_length, JSON_MAX),
        lambda p: pc.binary_join_element_wise(
            "dimension_scores is too long: ",
            pc.cast(p(dims_length), pa.string()),
            f" characters, the limit is {JSON_MAX}",
            "",
        ),
    )
    check.fail(
        "dimension_scores",
        pc.invert(pc.match_substring_regex(dims, DIMENSIONS_RE)),
        lambda p: pc.binary_join_element_wise(
            "dimension_scores ",
            _quoted(p(dims)),
            ' is not a JSON object of "name": score with scores 0-100',
            "",
        ),
    )
    out["dimension_scores"] = dims

    ok = check.ok
    all_ok = pc.all(ok).as_py()
    landed = pa.Table.from_arrays(
        [*(out[c.name] for c in INPUT_COLUMNS), pc.cast(row_numbers, pa.uint64())],
        schema=INPUT_SCHEMA.append(pa.field("_row_number", pa.uint64(), nullable=False)),
    )
    if not all_ok:
        landed = landed.filter(ok)

    rejected = Rejected([], [], [], [])
    if not all_ok:
        bad = pc.invert(ok)
        rejected.row_numbers = pc.filter(row_numbers, bad).to_pylist()
        rejected.columns = pc.filter(check.column, bad).to_pylist()
        rejected.reasons = pc.filter(check.reason, bad).to_pylist()
        source = raw_text if raw_text is not None else batch
        rejected.raw_rows = raw_rows_json(source.filter(bad))
    return Validated(landed, rejected)


def raw_rows_json(table: pa.Table) -> list[str]:
    """Rows as JSON objects of field -> text, for the quarantine."""
    import json

    names = table.column_names
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = []
    for values in zip(*columns, strict=True):
        rows.append(
            json.dumps(
                {
                    k: (v if v is None or isinstance(v, str) else _plain(v))
                    for k, v in zip(names, values, strict=True)
                },
                ensure_ascii=False,
            )
        )
    return rows


def _plain(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
