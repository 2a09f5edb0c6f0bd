"""Row validation, in SQL: every rule is a ClickHouse expression evaluated by the engine.

A load inserts its rows, as text and with the number of the first check each fails, into a
per-batch table (ENGINE = Null). Two materialized views route each row: valid rows, typed, to
``student_scores``; invalid rows to ``quarantine`` with the column that failed and why (see
loaders.pipeline). The same SQL runs on the embedded engine and on a ClickHouse server,
vectorised and multi-threaded, at millions of rows per second. The checks, in order:

* ids (student, teacher, school, district) present (not only Unicode spaces or invisible
  characters), at most 64 characters; names at most 200;
  no control characters (ASCII, C1, U+2028/U+2029);
* no invisible or look-alike character in an identifier (the ids, state_id, subject, test_id):
  no format character (Unicode category Cf: zero-width space, non-joiner and joiner
  U+200B-U+200D, word joiner U+2060, BOM U+FEFF, soft hyphen, bidirectional marks, ...) and no
  space but the ASCII one (no-break U+00A0 and U+202F, en/em/ideographic spaces, ...): 'S000001'
  followed by U+200B would otherwise be a second student. Names may contain them;
* state_id two letters; subject known (seeds/subjects.csv); test_id known (seeds/tests.csv) and of
  the row's subject;
* grade a whole number in seeds/grade_levels.csv; school_year 2000-2100 and not past retention;
  test_date a real date YYYY-MM-DD inside its school year (1 July of the previous year to 30 June);
* overall_score a whole number 0-100; overall_performance_level 1-4;
* dimension_scores empty or a flat JSON object of "name": number with numbers 0-100 (JSON
  numbers: no leading zeros, at most 4 decimals, which the marts sum exactly), each name once,
  names without quotes or backslashes, at most 4 KiB.

Duplicate keys inside one load are found after landing (loaders.quarantine).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loaders import school_calendar
from loaders.reference import Reference
from loaders.schema import INPUT_COLUMN_NAMES, INPUT_COLUMNS

ID_MAX = 64
NAME_MAX = 200
JSON_MAX = 4096
YEAR_MIN, YEAR_MAX = 2000, 2100
# a JSON number 0-100 with at most 4 decimals: the marts sum dimension scores as Decimal(18, 4),
# so a fifth decimal would be cut off; JSON has no leading zeros ('07' is not JSON, and one such
# value made every dimension of its row disappear)
DIMENSION_DECIMALS = 4
_NUMBER_0_100 = r"(?:100(?:\.0{1,4})?|[1-9]?[0-9](?:\.[0-9]{1,4})?)"
_PAIR = r'"[^"\\\x00-\x1f]{1,64}"[ \t]*:[ \t]*' + _NUMBER_0_100
# spaces and tabs only: no value may hold a line break, in any format (a CSV value cannot span
# lines, so neither can a JSON or Parquet one)
_SPACE = r"[ \t]*"
DIMENSIONS_RE = "^" + _SPACE + r"\{" + _SPACE + "(?:" + _PAIR + "(?:" + _SPACE + "," + _SPACE + _PAIR + ")*)?"
DIMENSIONS_RE += _SPACE + r"\}" + _SPACE + "$"
INTEGER_RE = r"^[+]?[0-9]{1,6}$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
CONTROL_RE = r"[\x00-\x1f\x7f\x{80}-\x{9f}\x{2028}\x{2029}]"
# the non-ASCII control characters: C1 (U+0080-U+009F) and the line/paragraph separators
UNICODE_CONTROL_RE = r"[\x{80}-\x{9f}\x{2028}\x{2029}]"
# Unicode spaces and invisible format characters: an id made only of these is missing
BLANK_RE = r"^[\p{Z}\x{FEFF}\x{200B}-\x{200D}\x{2060}]+$"
# what an identifier must not contain: format characters (Cf) and every space but U+0020 (Zs, and
# the separators U+2028/U+2029); the one definition for every format, checked in the engine
INVISIBLE_RE = r"[\p{Cf}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"
# names for the messages, of the invisible characters met most (others by code point alone)
INVISIBLE_NAMES = {
    "U+00A0": "NO-BREAK SPACE",
    "U+00AD": "SOFT HYPHEN",
    "U+200B": "ZERO WIDTH SPACE",
    "U+200C": "ZERO WIDTH NON-JOINER",
    "U+200D": "ZERO WIDTH JOINER",
    "U+200E": "LEFT-TO-RIGHT MARK",
    "U+200F": "RIGHT-TO-LEFT MARK",
    "U+202F": "NARROW NO-BREAK SPACE",
    "U+2060": "WORD JOINER",
    "U+3000": "IDEOGRAPHIC SPACE",
    "U+FEFF": "ZERO WIDTH NO-BREAK SPACE (BOM)",
}

ID_COLUMNS = ("student_id", "teacher_id", "school_id", "district_id")
NAME_COLUMNS = ("teacher_name", "school_name", "district_name")
# columns that identify something: no invisible characters in them (INVISIBLE_RE)
IDENTIFIER_COLUMNS = (*ID_COLUMNS, "state_id", "subject", "test_id")


@dataclass
class Rejected:
    """Rows rejected before they reach the engine (e.g. a CSV row with too few fields)."""

    row_numbers: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    raw_rows: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.row_numbers)

    def add(self, row_number: int, reason: str, raw_row: str) -> None:
        self.row_numbers.append(row_number)
        self.reasons.append(reason)
        self.raw_rows.append(raw_row)


def quote(value: str) -> str:
    """A ClickHouse string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _text(column: str) -> str:
    """The trimmed text of a column (projected once by Rules.trimmed_projection)."""
    return f"t_{column}"


# Bytes 0x01-0x1f and 0x7f mapped to 0x00 (translate is a byte table, UTF-8 sequences pass
# through: their bytes are all >= 0x80), then one memchr-style search for 0x00. The same rows as
# match(value, CONTROL_RE), at a third of the cost and on every ClickHouse (no vectorscan needed).
_CONTROL_FROM = "".join(f"\\x{i:02x}" for i in (*range(1, 32), 127))
_CONTROL_TO = "\\x00" * (len(_CONTROL_FROM) // 4)


def _non_ascii_match(expression: str, pattern: str) -> str:
    """SQL: the value matches a pattern of non-ASCII characters. The pattern only runs on values
    with non-ASCII bytes (`AND` short-circuits), so ASCII data pays one length comparison."""
    return f"(length({expression}) != lengthUTF8({expression}) AND match({expression}, {quote(pattern)}))"


def _has_control_characters(expression: str) -> str:
    """ASCII controls by the byte scan; Unicode ones (C1, U+2028/9) by a pattern."""
    return (
        f"(position(translate({expression}, '{_CONTROL_FROM}', '{_CONTROL_TO}'), '\\x00') > 0 "
        f"OR {_non_ascii_match(expression, UNICODE_CONTROL_RE)})"
    )


def _longer_than(expression: str, limit: int) -> str:
    """SQL: the value has more than ``limit`` characters. The byte length (free: string offsets)
    is checked first: a value of at most ``limit`` bytes has at most ``limit`` characters, so only
    longer ones are counted character by character."""
    return f"(length({expression}) > {limit} AND lengthUTF8({expression}) > {limit})"


def _present_and_valid(column: str, value: str, invalid: str, why: str) -> list[tuple[str, str, str]]:
    """The two checks of a required text column: missing, and invalid (the value shown, then `why`,
    a quoted SQL string)."""
    return [
        (column, f"empty({value})", quote(f"{column} is missing")),
        (column, invalid, f"concat({quote(column + ' ')}, {_shown(value)}, {why})"),
    ]


def _shown(expression: str) -> str:
    """The value as shown in a message: quoted, cut at 40 characters."""
    return (
        f"concat('''', substringUTF8({expression}, 1, 40), if(lengthUTF8({expression}) > 40, '...''', ''''))"
    )


def _code_point(character: str) -> str:
    """SQL: 'U+XXXX' (and the character's name when INVISIBLE_NAMES has it) of a one-character
    string, decoded from its UTF-8 bytes."""
    byte = [f"toUInt32(reinterpretAsUInt8(substring({character}, {i}, 1)))" for i in (1, 2, 3, 4)]

    def bits(i: int, mask: int, shift: int) -> str:
        return f"bitShiftLeft(bitAnd({byte[i]}, {mask}), {shift})"

    value = (
        f"multiIf(length({character}) = 2, bitOr({bits(0, 31, 6)}, {bits(1, 63, 0)}), "
        f"length({character}) = 3, bitOr(bitOr({bits(0, 15, 12)}, {bits(1, 63, 6)}), {bits(2, 63, 0)}), "
        f"bitOr(bitOr(bitOr({bits(0, 7, 18)}, {bits(1, 63, 12)}), {bits(2, 63, 6)}), {bits(3, 63, 0)}))"
    )
    code = f"concat('U+', leftPad(replaceRegexpOne(hex({value}), '^0+', ''), 4, '0'))"
    names = f"transform({code}, {_list(list(INVISIBLE_NAMES))}, {_list(list(INVISIBLE_NAMES.values()))}, '')"
    return f"concat({code}, if(empty({names}), '', concat(' (', {names}, ')')))"


def _list(values: list[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


class Rules:
    """The validation rules for one load, as SQL over the landing table's text columns."""

    def __init__(self, reference: Reference, retained_from: int | None) -> None:
        self.reference = reference
        self.retained_from = retained_from

    def checks(self) -> list[tuple[str, str, str]]:
        """(column, failure condition, message expression), in the order they are tried."""
        checks: list[tuple[str, str, str]] = []
        for name in (*ID_COLUMNS, *NAME_COLUMNS):
            value = _text(name)
            limit = ID_MAX if name in ID_COLUMNS else NAME_MAX
            if name in ID_COLUMNS:
                checks.append((name, f"empty({value})", quote(f"{name} is missing")))
                checks.append(
                    (
                        name,
                        _non_ascii_match(value, BLANK_RE),
                        quote(f"{name} is missing: only blank characters (Unicode spaces)"),
                    )
                )
            checks.append(
                (
                    name,
                    _longer_than(value, limit),
                    f"concat({quote(name + ' is too long: ')}, toString(lengthUTF8({value})), "
                    f"{quote(f' characters, the limit is {limit}')})",
                )
            )

        # control characters: a byte-wise scan of every text column, the column named on a hit
        text_columns = (*ID_COLUMNS, *NAME_COLUMNS)
        which = (
            "multiIf("
            + ", ".join(f"match({_text(n)}, {quote(CONTROL_RE)}), {quote(n)}" for n in text_columns)
            + ", '')"
        )
        checks.append(
            (
                f"@{which}",
                " OR ".join(_has_control_characters(_text(n)) for n in text_columns),
                f"concat({which}, ' contains control characters')",
            )
        )

        # invisible characters in identifiers: the column and the first such character named
        def invisible(name: str) -> str:
            return f"match({_text(name)}, {quote(INVISIBLE_RE)})"

        which = "multiIf(" + ", ".join(f"{invisible(n)}, {quote(n)}" for n in IDENTIFIER_COLUMNS) + ", '')"
        first_invisible = quote("(" + INVISIBLE_RE + ")")
        described = (
            "multiIf("
            + ", ".join(
                f"{invisible(n)}, {_code_point(f'extract({_text(n)}, {first_invisible})')}"
                for n in IDENTIFIER_COLUMNS
            )
            + ", '')"
        )
        checks.append(
            (
                f"@{which}",
                " OR ".join(_non_ascii_match(_text(n), INVISIBLE_RE) for n in IDENTIFIER_COLUMNS),
                f"concat({which}, ' contains an invisible character, ', {described}, "
                f"{quote('; identifiers must not contain format characters or spaces other than U+0020')})",
            )
        )

        state = _text("state_id")
        checks.extend(
            _present_and_valid(
                "state_id",
                state,
                f"NOT match({state}, '^[A-Za-z]{{2}}$')",
                quote(" is not a two-letter state code"),
            )
        )

        subject = f"upperUTF8({_text('subject')})"
        subjects = sorted(self.reference.subject_codes)
        checks.extend(
            _present_and_valid(
                "subject",
                subject,
                f"NOT has({_list(subjects)}, {subject})",
                quote(f" is not a known subject ({', '.join(subjects)})"),
            )
        )

        checks.extend(self._integer("grade", *self.reference.grades))

        test = f"upperUTF8({_text('test_id')})"
        tests = sorted(self.reference.test_subject)
        test_subjects = [self.reference.test_subject[t] for t in tests]
        checks.extend(
            _present_and_valid(
                "test_id",
                test,
                f"NOT has({_list(tests)}, {test})",
                quote(" is not a known test (seeds/tests.csv)"),
            )
        )
        expected_subject = f"transform({test}, {_list(tests)}, {_list(test_subjects)}, '')"
        checks.append(
            (
                "test_id",
                f"{expected_subject} != {subject}",
                f"concat('test_id ', {_shown(test)}, ' belongs to subject ', {expected_subject}, "
                f"', not ', {subject})",
            )
        )

        checks.extend(self._integer("school_year", YEAR_MIN, YEAR_MAX))
        year = f"toUInt16OrZero({_text('school_year')})"
        if self.retained_from is not None:
            checks.append(
                (
                    "school_year",
                    f"{year} < {self.retained_from}",
                    f"concat('school_year ', toString({year}), "
                    f"{quote(f' is past the retention period (kept from {self.retained_from})')})",
                )
            )

        date_text = _text("test_date")
        date = f"toDateOrNull({date_text})"
        checks.append(("test_date", f"empty({date_text})", quote("test_date is missing")))
        checks.append(
            (
                "test_date",
                # = NOT match(DATE_RE) OR not a date OR not written as toString writes it: a
                # string equal to toString of a date has the form YYYY-MM-DD (no regex needed)
                f"ifNull(toString({date}) != {date_text}, 1)",
                f"concat('test_date ', {_shown(date_text)}, ' is not a date in the form YYYY-MM-DD')",
            )
        )
        checks.append(
            (
                "test_date",
                school_calendar.outside_sql(date, year),
                f"concat('test_date ', {date_text}, ' is outside school year ', toString({year}), "
                "' (1 July to 30 June)')",
            )
        )

        checks.extend(self._integer("overall_score", 0, 100))
        checks.extend(self._integer("overall_performance_level", 1, 4))

        dims = _text("dimension_scores")
        checks.append(
            (
                "dimension_scores",
                _longer_than(dims, JSON_MAX),
                f"concat('dimension_scores is too long: ', toString(lengthUTF8({dims})), "
                f"{quote(f' characters, the limit is {JSON_MAX}')})",
            )
        )
        not_json = quote(
            ' is not a JSON object of "name": score with scores 0-100 written as JSON numbers '
            f"with at most {DIMENSION_DECIMALS} decimals"
        )
        checks.append(
            (
                "dimension_scores",
                f"NOT empty({dims}) AND NOT match({dims}, {quote(DIMENSIONS_RE)})",
                f"concat('dimension_scores ', {_shown(dims)}, {not_json})",
            )
        )
        # one score per dimension: a repeated name would count twice for one student
        keys = f"JSONExtractKeys({dims})"
        repeated = f"arrayFilter((k, i) -> indexOf({keys}, k) != i, {keys}, arrayEnumerate({keys}))"
        checks.append(
            (
                "dimension_scores",
                f"NOT empty({dims}) AND length({keys}) != length(arrayDistinct({keys}))",
                f"concat('dimension_scores names ', arrayStringConcat({repeated}, ', '), ' more than once')",
            )
        )
        return checks

    @staticmethod
    def _integer(name: str, low: int, high: int) -> list[tuple[str, str, str]]:
        value = _text(name)
        number = f"toUInt64OrZero({value})"
        prefix = quote(name + " ")
        not_whole = quote(f" is not a whole number between {low} and {high}")
        outside = quote(f" is outside {low}-{high}")
        # Nearly every value is written the usual way ('7', not '+07'): one lookup in the set of
        # those spellings passes all three checks, and only other values are parsed. (The
        # engine computes the repeated lookup once.)
        usual = ", ".join(quote(str(n)) for n in range(low, high + 1))
        unusual = f"{value} NOT IN ({usual})"
        return [
            (name, f"{unusual} AND empty({value})", quote(f"{name} is missing")),
            (
                name,
                f"{unusual} AND NOT match({value}, {quote(INTEGER_RE)})",
                f"concat({prefix}, {_shown(value)}, {not_whole})",
            ),
            (
                name,
                f"{unusual} AND ({number} < {low} OR {number} > {high})",
                f"concat({prefix}, toString({number}), {outside})",
            ),
        ]

    @staticmethod
    def trimmed_projection() -> str:
        """SQL select list: every column of the landing table plus its trimmed text as t_<name>."""
        trimmed = ", ".join(f"trimBoth(ifNull({c.name}, '')) AS t_{c.name}" for c in INPUT_COLUMNS)
        return f"*, {trimmed}"

    def checked_rows(self, source: str) -> str:
        """SQL: the rows of ``source`` (the contract columns as text, NULL for a missing value, and
        ``_row_number``) as the pipeline's ``_checked`` table takes them: the text as read (NULL
        as empty), ``_row_number`` and ``failed_check``, the number of the first failed check."""
        text = ", ".join(f"ifNull({name}, '') AS {name}" for name in INPUT_COLUMN_NAMES)
        return (
            f"SELECT {text}, _row_number, {self.failed_check()} AS failed_check "
            f"FROM (SELECT {self.trimmed_projection()} FROM {source})"
        )

    def failed_check(self) -> str:
        """SQL: the number (1-based) of the first check a row fails, 0 for a valid row.

        Cheap for every row: only conditions and a small integer; the message is built by
        ``rejection`` for the few rows that fail.
        """
        parts = [
            f"({condition}), {number}" for number, (_, condition, _) in enumerate(self.checks(), start=1)
        ]
        return "multiIf(\n    " + ",\n    ".join(parts) + ",\n    0)"

    def rejection(self, failed_check: str = "failed_check") -> tuple[str, str]:
        """SQL (column, reason) of a failed row, given the number of its failed check."""
        columns, reasons = [], []
        for number, (column, _, message) in enumerate(self.checks(), start=1):
            # a column starting with @ is an SQL expression naming the column
            column_sql = column[1:] if column.startswith("@") else quote(column)
            columns.append(f"{failed_check} = {number}, {column_sql}")
            reasons.append(f"{failed_check} = {number}, {message}")
        return (
            "multiIf(" + ", ".join(columns) + ", '')",
            "multiIf(" + ", ".join(reasons) + ", '')",
        )

    @staticmethod
    def typed_columns() -> list[tuple[str, str]]:
        """(landed column, SQL over the checked text columns) for a valid row; safe on any row."""

        def text(name: str) -> str:
            return f"trimBoth({name})"

        dims = text("dimension_scores")
        typed = {
            "state_id": f"upperUTF8({text('state_id')})",
            "subject": f"upperUTF8({text('subject')})",
            "test_id": f"upperUTF8({text('test_id')})",
            "grade": f"toUInt8OrZero({text('grade')})",
            "school_year": f"toUInt16OrZero({text('school_year')})",
            "test_date": f"toDateOrZero({text('test_date')})",
            "overall_score": f"toUInt8OrZero({text('overall_score')})",
            "overall_performance_level": f"toUInt8OrZero({text('overall_performance_level')})",
            "dimension_scores": f"if(empty({dims}), '{{}}', {dims})",
        }
        return [(c.name, typed.get(c.name, text(c.name))) for c in INPUT_COLUMNS]

    @staticmethod
    def raw_row() -> str:
        """SQL: the row as read, a JSON object of field -> text (over the checked text columns)."""
        fields = ", ".join(f"{quote(c.name)}, {c.name}" for c in INPUT_COLUMNS)
        return f"toJSONString(map({fields}))"
