"""Hostile input files beyond test_loaders: line endings, header edge cases, JSON that Python's json
module accepts but no UTF-8 text or contract can hold, Parquet column names with spaces.

The same rules as there: a bad file gives exit code 1 and a message naming it, and leaves nothing;
a bad row is quarantined with a reason; one bad file never stops the others of the same load.
"""

from __future__ import annotations

import pyarrow.parquet as pq
from test_loaders import ROWS, _assert_rejected_file, _counts, _csv_text, _load, _no_leftovers, _records

from loaders.schema import INPUT_COLUMN_NAMES

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


def test_csv_header_only_without_final_line_break_is_an_empty_load(warehouse, tmp_path):
    """Like a header-only file ending in a line break: 0 rows (it was: 'a row is larger than 16 MB')."""
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


# -- Parquet --------------------------------------------------------------------------


def test_parquet_column_names_with_spaces_are_refused_clearly(warehouse, tmp_path):
    """' student_id' is not student_id: the file is refused naming the column (it was: KeyError)."""
    path = tmp_path / "spaced.parquet"
    pq.write_table(ROWS.rename_columns([f" {c}" if c == "grade" else c for c in INPUT_COLUMN_NAMES]), path)
    code, output = _load(str(path))
    _assert_rejected_file(warehouse, code, output, str(path), "surrounding spaces: ' grade'")
