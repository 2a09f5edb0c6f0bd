"""Hostile input files beyond test_loaders: line endings, header edge cases, JSON that Python's json
module accepts but no UTF-8 text or contract can hold, Parquet column names with spaces.

The same rules as there: a bad file gives exit code 1 and a message naming it, and leaves nothing;
a bad row is quarantined with a reason; one bad file never stops the others of the same load.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from test_loaders import (
    ROWS,
    _assert_rejected_file,
    _counts,
    _csv_text,
    _load,
    _no_leftovers,
    _records,
    _write_csv,
)

from loaders.schema import INPUT_COLUMN_NAMES


def _jsonl_lines(count: int = 20) -> list[str]:
    return [json.dumps(r) for r in _records()[:count]]


def _quarantine_reasons(warehouse) -> dict[int, str]:
    return dict(warehouse.rows(f"SELECT row_number, reason FROM `{warehouse.raw}`.quarantine"))


def _load_edited_csv(warehouse, path, edits: dict[tuple[int, str], str]) -> dict[int, str]:
    """Load the sample rows as CSV with some fields replaced ({(row index, column): value}); the
    load must quarantine rows (exit code 3). Returns the quarantine reasons by row number."""
    records = _records()
    for (index, column), value in edits.items():
        records[index][column] = value
    code, output = _load(str(_write_csv(path, records)))
    assert code == 3, output
    return _quarantine_reasons(warehouse)


def _landed_value(warehouse, column: str, row_number: int):
    return warehouse.rows(
        f"SELECT {column} FROM `{warehouse.raw}`.student_scores WHERE _row_number = {row_number}"
    )


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_with_old_mac_line_endings_loads(warehouse, tmp_path):
    """Lines ended by a lone \\r: the CSV parser reads them; the header must be read the same way
    (it was: csv.Error traceback)."""
    path = tmp_path / "mac.csv"
    path.write_bytes(_csv_text().replace("\n", "\r").encode())
    code, output = _load(str(path))
    assert code == 0, output
    assert _counts(warehouse) == (300, 0, 1)
    landed = warehouse.rows(
        f"SELECT student_id, dimension_scores FROM `{warehouse.raw}`.student_scores ORDER BY _row_number"
    )
    assert landed == [(r["student_id"], r["dimension_scores"]) for r in _records()]


def test_file_named_with_glob_characters_loads_by_its_exact_path(warehouse, tmp_path):
    """An existing file is loaded by its name even when the name reads as a glob pattern (it was:
    'no file matches this pattern'); a pattern that matches nothing is still refused."""
    path = tmp_path / "scores [2025] *final?.csv"
    path.write_text(_csv_text())
    code, output = _load(str(path))
    assert code == 0, output
    assert _counts(warehouse) == (300, 0, 1)
    code, output = _load(str(tmp_path / "nothing [x]*.csv"))
    assert code != 0, output
    assert "no file matches this pattern" in output, output


def test_file_changed_while_loading_is_refused_and_rolled_back(warehouse, tmp_path, monkeypatch):
    """The checksum that makes loads idempotent is taken before the rows are read: a file
    rewritten in between must not land under the old content's checksum. Nothing of it stays,
    and the finished file loads afterwards."""
    from loaders.landing import Landing

    path = tmp_path / "growing.csv"
    path.write_text(_csv_text())
    insert_rows = Landing.insert_rows

    def append_while_loading(self, batch_id, rows):
        insert_rows(self, batch_id, rows)
        with path.open("a") as handle:  # another process appends to the file meanwhile
            handle.write(_csv_text().splitlines(keepends=True)[1])

    monkeypatch.setattr(Landing, "insert_rows", append_while_loading)
    code, output = _load(str(path))
    assert code != 0, output
    assert "changed while it was being loaded" in output, output
    assert _counts(warehouse) == (0, 0, 0)
    _no_leftovers(warehouse)
    monkeypatch.setattr(Landing, "insert_rows", insert_rows)
    code, output = _load(str(path))
    assert code == 3, output  # the appended line repeats row 1: quarantined as a duplicate
    assert _counts(warehouse) == (300, 1, 1)


def test_ids_made_only_of_unicode_blanks_are_missing(warehouse, tmp_path):
    """An id of no-break, ideographic or zero-width spaces is as missing as an empty one; an id
    that merely contains one lands unchanged."""
    reasons = _load_edited_csv(
        warehouse,
        tmp_path / "blank_ids.csv",
        {
            (0, "student_id"): "\u00a0",
            (1, "teacher_id"): "\u3000\u00a0",
            (2, "school_id"): "\u200b",
            (3, "district_id"): "\ufeff ",
            (4, "student_id"): "S\u00a0042",
        },
    )
    assert _counts(warehouse) == (296, 4, 1)
    for row, column in ((1, "student_id"), (2, "teacher_id"), (3, "school_id"), (4, "district_id")):
        assert reasons[row] == f"{column} is missing: only blank characters (Unicode spaces)"
    assert _landed_value(warehouse, "student_id", 5) == [("S\u00a0042",)]


def test_unicode_control_characters_are_rejected_like_ascii_ones(warehouse, tmp_path):
    """C1 controls (U+0080-U+009F) and the line/paragraph separators (U+2028/9) are control
    characters too; accented and other non-ASCII text lands unchanged."""
    reasons = _load_edited_csv(
        warehouse,
        tmp_path / "controls.csv",
        {
            (0, "teacher_name"): "Ann\u0085Lee",
            (1, "school_name"): "North\u2028High",
            (2, "student_id"): "S\u009b1",
            (3, "district_name"): "Distrito Ni\u00f1o \u6771\u4eac",
        },
    )
    assert _counts(warehouse) == (297, 3, 1)
    assert reasons[1] == "teacher_name contains control characters"
    assert reasons[2] == "school_name contains control characters"
    assert reasons[3] == "student_id contains control characters"
    assert _landed_value(warehouse, "district_name", 4) == [("Distrito Ni\u00f1o \u6771\u4eac",)]


def test_csv_row_over_the_block_size_is_refused_naming_where(warehouse, tmp_path):
    """A row the CSV reader cannot hold (three of its blocks, CSV_BLOCK_BYTES; a row over two
    blocks is still read, and quarantined as too long): the file is refused, and the message says
    from which row on to look (it named no row)."""
    from loaders.readers import CSV_BLOCK_BYTES

    records = _records()
    records[200]["dimension_scores"] = "x" * (3 * CSV_BLOCK_BYTES)
    code, output = _load(str(_write_csv(tmp_path / "huge.csv", records)))
    assert code != 0, output[:500]
    assert f"a row is larger than {CSV_BLOCK_BYTES >> 20} MB (row " in output, output[:500]
    row = int(output.split("(row ", 1)[1].split(" ", 1)[0])
    assert 1 <= row <= 201, output[:500]
    assert _counts(warehouse) == (0, 0, 0)
    _no_leftovers(warehouse)


def test_csv_header_only_without_final_line_break_is_an_empty_load(warehouse, tmp_path):
    """Like a header-only file ending in a line break: 0 rows (it was: 'a row is larger than ... MB')."""
    path = tmp_path / "header.csv"
    path.write_text(_csv_text().splitlines()[0])
    code, output = _load(str(path))
    assert code == 0, output
    assert "0 rows read" in output
    assert _counts(warehouse) == (0, 0, 1)
    _no_leftovers(warehouse)


def test_csv_header_beyond_the_limit_is_refused_clearly(warehouse, tmp_path):
    """No line break in the first MB: say so (it was: the cut header 'repeats columns')."""
    header = _csv_text().splitlines()[0] + "," + ",".join(f"extra{i}" for i in range(200_000))
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + _csv_text().splitlines()[1] + "\n")
    code, output = _load(str(path))
    _assert_rejected_file(warehouse, code, output, str(path), "row 0", "no line break in the first 1 MB")


def test_csv_header_with_very_many_columns_fails_fast_with_a_short_message(warehouse, tmp_path):
    """60,000 extra columns: the header check was quadratic (minutes) and listed every name."""
    extra = ",".join(f"c{i}" for i in range(60_000))
    header = _csv_text().splitlines()[0] + "," + extra
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n")
    code, output = _load(str(path))
    _assert_rejected_file(warehouse, code, output, str(path), "unexpected columns: c0, c1", "(59990 more)")
    assert len(output) < 2000
    twice = tmp_path / "twice.csv"  # every extra name repeated: found in linear time, listed briefly
    twice.write_text(header + "," + extra + "\n")
    code, output = _load(str(twice))
    _assert_rejected_file(warehouse, code, output, "the header repeats columns: c0, c1")
    assert len(output) < 2000


# -- JSON lines -----------------------------------------------------------------------------------


def test_jsonl_unpaired_surrogate_escape_is_quarantined(warehouse, tmp_path):
    """ "\\ud800" is valid JSON syntax but no UTF-8 text: that line is quarantined, the rest lands
    (it was: UnicodeEncodeError traceback, the whole file failed)."""
    lines = _jsonl_lines()
    lines[3] = lines[3].replace('"teacher_name": "', '"teacher_name": "\\ud800', 1)
    lines[5] = lines[5].replace('"teacher_name": "', '"teacher_name": "\\ud83c\\udf89', 1)  # a pair: fine
    path = tmp_path / "surrogate.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    assert "Traceback" not in output
    reasons = _quarantine_reasons(warehouse)
    assert list(reasons) == [4]
    assert "unpaired surrogate" in reasons[4]
    assert _counts(warehouse)[:2] == (19, 1)
    name = warehouse.scalar(
        f"SELECT teacher_name FROM `{warehouse.raw}`.student_scores WHERE _row_number = {{n:UInt64}}", n=6
    )
    assert name.startswith("\U0001f389")


def test_json_document_instead_of_json_lines_is_refused_clearly(warehouse, tmp_path):
    """A JSON array, or objects pretty-printed over several lines, is not JSON lines: refused with
    a message saying so (it was: loaded with every line quarantined), nothing kept. A stray "["
    line later in a JSON-lines file is one bad row, as before."""
    records = [json.loads(line) for line in _jsonl_lines(3)]
    for name, text in (
        ("array.jsonl", json.dumps(records)),
        ("array_pretty.jsonl", json.dumps(records, indent=2)),
        ("pretty.jsonl", "\n".join(json.dumps(r, indent=2) for r in records)),
    ):
        path = tmp_path / name
        path.write_text(text)
        code, output = _load(str(path))
        assert code != 0, (name, output)
        assert "this is JSON, not JSON lines" in output, (name, output)
        assert _counts(warehouse) == (0, 0, 0)
    path = tmp_path / "stray.jsonl"
    path.write_text("\n".join([*_jsonl_lines(3), "[", *_jsonl_lines(5)[3:]]) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    assert _counts(warehouse) == (5, 1, 1)


def test_jsonl_field_given_twice_is_quarantined(warehouse, tmp_path):
    """{"overall_score": 12, ..., "overall_score": 95}: which one? Not silently the last one."""
    lines = _jsonl_lines()
    lines[2] = lines[2][:-1] + ', "overall_score": 95}'
    path = tmp_path / "twice.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    assert _quarantine_reasons(warehouse) == {3: "field 'overall_score' appears more than once in an object"}
    assert _counts(warehouse)[:2] == (19, 1)


def test_jsonl_boolean_object_or_array_in_a_text_column_is_quarantined(warehouse, tmp_path):
    """An id of false, {...} or [...] must not land as the text 'false', '{...}' or '[...]'.
    Numbers stay accepted (ids written as numbers) and dimension_scores may be an object."""
    records = [dict(r) for r in _records()[:20]]
    lines = [json.dumps(r) for r in records]
    lines[1] = json.dumps({**records[1], "student_id": False})
    lines[2] = json.dumps({**records[2], "teacher_id": {"id": "T1"}})
    lines[3] = json.dumps({**records[3], "school_name": ["a", "b"]})
    lines[4] = json.dumps({**records[4], "student_id": 12345})
    lines[5] = json.dumps({**records[5], "dimension_scores": {"Reading": 85}})
    path = tmp_path / "types.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    assert _quarantine_reasons(warehouse) == {
        2: "student_id is a JSON boolean; expected a string or a number",
        3: "teacher_id is a JSON object; expected a string or a number",
        4: "school_name is a JSON array; expected a string or a number",
    }
    landed = dict(
        warehouse.rows(
            f"SELECT student_id, dimension_scores FROM `{warehouse.raw}`.student_scores "
            "WHERE _row_number IN (5, 6) ORDER BY _row_number"
        )
    )
    assert landed["12345"] == records[4]["dimension_scores"]
    assert landed[records[5]["student_id"]] == '{"Reading": 85}'


def test_jsonl_extra_object_field_is_ignored_when_asked(warehouse, tmp_path):
    """The type check covers the contract's columns only: an ignored extra field may be anything."""
    lines = [json.dumps({**r, "meta": {"a": [1, True]}}) for r in _records()[:5]]
    path = tmp_path / "extra.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, output = _load("--ignore-extra-columns", str(path))
    assert code == 0, output
    assert _counts(warehouse) == (5, 0, 1)


# -- Parquet and folders --------------------------------------------------------------------------


def test_parquet_column_names_with_spaces_are_refused_clearly(warehouse, tmp_path):
    """' student_id' is not student_id: the file is refused naming the column (it was: KeyError)."""
    path = tmp_path / "spaced.parquet"
    pq.write_table(ROWS.rename_columns([f" {c}" if c == "grade" else c for c in INPUT_COLUMN_NAMES]), path)
    code, output = _load(str(path))
    _assert_rejected_file(warehouse, code, output, str(path), "surrounding spaces: ' grade'")


def test_folder_with_hostile_files_loads_the_good_ones(warehouse, tmp_path):
    """Every file of a folder is tried: the good ones land, the bad ones fail with a message."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    records = _records()
    text = _csv_text()
    lines = text.splitlines()
    (folder / "a.csv").write_text("\n".join(lines[:101]) + "\n")
    (folder / "b_mac.csv").write_bytes(("\r".join([lines[0], *lines[101:201]]) + "\r").encode())
    pq.write_table(ROWS.rename_columns([f"{c} " for c in INPUT_COLUMN_NAMES]), folder / "c_spaced.parquet")
    surrogate = json.dumps(records[0]).replace('"teacher_name": "', '"teacher_name": "\\udc00', 1)
    (folder / "d.jsonl").write_text("\n".join([surrogate, *(json.dumps(r) for r in records[201:251])]) + "\n")
    code, output = _load(str(folder))
    assert code == 1, output
    assert "Traceback" not in output
    assert "c_spaced.parquet: column names have surrounding spaces" in output
    assert "4 sources: 3 ok, 1 failed; 250 rows landed" in output
    assert _counts(warehouse) == (250, 1, 3)
    _no_leftovers(warehouse)
