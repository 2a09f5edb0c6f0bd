"""Hostile input files beyond test_loaders: line endings, header edge cases, JSON that Python's json
module accepts but no UTF-8 text or contract can hold, Parquet column names with spaces.

The same rules as there: a bad file gives exit code 1 and a message naming it, and leaves nothing;
a bad row is quarantined with a reason; one bad file never stops the others of the same load.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
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

from cli.main import cli
from loaders.generator import GeneratorSpec, generate
from loaders.schema import INPUT_COLUMN_NAMES


def _jsonl_lines(count: int = 20) -> list[str]:
    return [json.dumps(r) for r in _records()[:count]]


def _quarantine_reasons(warehouse) -> dict[int, str]:
    return dict(warehouse.rows(f"SELECT row_number, reason FROM `{warehouse.raw}`.quarantine"))


# what an edited field does to its row: (row index, column, value, the row's quarantine reason or
# None for a row that lands)
Edit = tuple[int, str, str, str | None]


def _invisible(column: str, character: str) -> str:
    """The quarantine reason of an identifier holding an invisible character."""
    return (
        f"{column} contains an invisible character, {character}; "
        "identifiers must not contain format characters or spaces other than U+0020"
    )


def _load_edited_csv(warehouse, path: Path, edits: list[Edit]) -> None:
    """Load the sample rows as CSV with some fields replaced; the load quarantines rows (exit code
    3), each edited row for the reason its edit gives, or none."""
    records = _records()
    for index, column, value, _ in edits:
        records[index][column] = value
    code, output = _load(str(_write_csv(path, records)))
    assert code == 3, output
    reasons = _quarantine_reasons(warehouse)
    for index, column, _, reason in edits:
        assert reasons.get(index + 1) == reason, (index, column)


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
    from loaders.pipeline import Pipeline

    path = tmp_path / "growing.csv"
    path.write_text(_csv_text())
    insert_rows = Pipeline.insert_rows

    def append_while_loading(self, batch_id, rows):
        insert_rows(self, batch_id, rows)
        with path.open("a") as handle:  # another process appends to the file meanwhile
            handle.write(_csv_text().splitlines(keepends=True)[1])

    monkeypatch.setattr(Pipeline, "insert_rows", append_while_loading)
    code, output = _load(str(path))
    assert code != 0, output
    assert "changed while it was being loaded" in output, output
    assert _counts(warehouse) == (0, 0, 0)
    _no_leftovers(warehouse)
    monkeypatch.setattr(Pipeline, "insert_rows", insert_rows)
    code, output = _load(str(path))
    assert code == 3, output  # the appended line repeats row 1: quarantined as a duplicate
    assert _counts(warehouse) == (300, 1, 1)


def test_ids_made_only_of_unicode_blanks_are_missing(warehouse, tmp_path):
    """An id of no-break, ideographic or zero-width spaces is as missing as an empty one; an id
    that merely contains one is quarantined for it (test_invisible_characters_in_identifiers)."""
    blank = "is missing: only blank characters (Unicode spaces)"
    edits: list[Edit] = [
        (0, "student_id", "\u00a0", f"student_id {blank}"),
        (1, "teacher_id", "\u3000\u00a0", f"teacher_id {blank}"),
        (2, "school_id", "\u200b", f"school_id {blank}"),
        (3, "district_id", "\ufeff ", f"district_id {blank}"),
        (4, "student_id", "S\u00a0042", _invisible("student_id", "U+00A0 (NO-BREAK SPACE)")),
    ]
    _load_edited_csv(warehouse, tmp_path / "blank_ids.csv", edits)
    assert _counts(warehouse) == (295, 5, 1)


def test_unicode_control_characters_are_rejected_like_ascii_ones(warehouse, tmp_path):
    """C1 controls (U+0080-U+009F) and the line/paragraph separators (U+2028/9) are control
    characters too; accented and other non-ASCII text lands unchanged."""
    edits: list[Edit] = [
        (0, "teacher_name", "Ann\u0085Lee", "teacher_name contains control characters"),
        (1, "school_name", "North\u2028High", "school_name contains control characters"),
        (2, "student_id", "S\u009b1", "student_id contains control characters"),
        (3, "district_name", "Distrito Ni\u00f1o \u6771\u4eac", None),
    ]
    _load_edited_csv(warehouse, tmp_path / "controls.csv", edits)
    assert _counts(warehouse) == (297, 3, 1)
    assert _landed_value(warehouse, "district_name", 4) == [("Distrito Ni\u00f1o \u6771\u4eac",)]


def test_csv_row_over_the_block_size_is_refused_naming_where(warehouse, tmp_path):
    """A row the CSV reader cannot hold (three of its blocks, CSV_BLOCK_BYTES; a row over two
    blocks is still read, and quarantined as too long): the file is refused, and the message says
    from which row on to look (it named no row)."""
    from loaders.csv_input import CSV_BLOCK_BYTES

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


# -- findings of the security review --------------------------------------------------------------

BIN = Path(sys.executable).parent


def _run_scores(chdb: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`scores` in a process of its own, on a data directory of its own (chDB: one per process)."""
    env = {**os.environ, "SCORES_TARGET": "dev", "SCORES_CHDB_PATH": str(chdb)}
    return subprocess.run(
        [str(BIN / "scores"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_non_regular_files_are_refused_without_hanging(tmp_path, monkeypatch):
    """A FIFO hung the load forever (the checksum's open waited for a writer), a link to /dev/zero
    read endless zeros, a socket failed obscurely; in a folder they were left out unsaid. Each is
    refused with a message naming what it is, and the regular file beside them loads."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    os.mkfifo(folder / "a_fifo.csv")
    (folder / "b_zero.csv").symlink_to("/dev/zero")
    monkeypatch.chdir(folder)  # a relative name: socket paths are short
    listener = socket.socket(socket.AF_UNIX)
    listener.bind("c_socket.csv")
    _write_csv(folder / "d_good.csv", _records()[:10])
    direct = tmp_path / "direct_fifo.csv"
    os.mkfifo(direct)
    try:
        run = _run_scores(tmp_path / "chdb", "load", "--quiet", str(folder), str(direct), timeout=120)
    finally:
        listener.close()
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "Traceback" not in output
    for name, kind in (
        ("a_fifo.csv", "a named pipe (FIFO)"),
        ("b_zero.csv", "a character device"),
        ("c_socket.csv", "a socket"),
        ("direct_fifo.csv", "a named pipe (FIFO)"),
    ):
        assert f"{name}: is {kind}, not a regular file" in output, (name, output)
    assert "d_good.csv: 10 rows read, 10 landed" in output, output
    assert "5 sources: 1 ok, 4 failed; 10 rows landed" in output, output


def test_a_fifo_swapped_in_after_the_check_cannot_hang_the_open(tmp_path, monkeypatch):
    """Between the check of a file's kind and its open, the path may become a FIFO: the open does
    not wait for a writer, and the descriptor is checked again."""
    from loaders import file_errors, sources

    regular = tmp_path / "real.csv"
    regular.write_text("x")
    fifo = tmp_path / "swapped.csv"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(regular))  # what the check saw
    with pytest.raises(
        file_errors.FileError, match=r"swapped\.csv: is a named pipe \(FIFO\), not a regular file"
    ):
        sources.open_regular(fifo)


def _load_measuring_memory(path: Path) -> tuple[int, str, int]:
    """Load a file; (exit code, output, peak bytes of Python memory during the load)."""
    tracemalloc.start()
    try:
        code, output = _load(str(path))
        return code, output, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_parquet_gz_decompression_bomb_is_refused_without_filling_memory(warehouse, tmp_path, monkeypatch):
    """64 MiB of zeros in a 64 KiB .parquet.gz: it was decompressed whole in memory (a 1 MB file
    reached 2.44 GB). It streams to a temporary file and stops at SCORES_GZIP_MAX_RATIO (100) times
    its compressed size; the temporary file goes, and a genuine file still loads."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = tmp_path / "bomb.parquet.gz"
    path.write_bytes(gzip.compress(b"PAR1" + bytes(64 << 20), compresslevel=9))
    code, output, peak = _load_measuring_memory(path)
    _assert_rejected_file(
        warehouse, code, output, f"{path}: decompresses to more than 100 times its size", "decompression bomb"
    )
    assert "SCORES_GZIP_MAX_RATIO" in output
    assert peak < 16 << 20, f"{peak:,} bytes of Python memory at the peak"
    assert list(scratch.iterdir()) == []
    result = CliRunner().invoke(cli, ["load", "--quiet", str(path)], env={"SCORES_GZIP_MAX_RATIO": "lots"})
    assert result.exit_code == 2, result.output
    assert "SCORES_GZIP_MAX_RATIO must be a whole number" in result.output
    genuine = tmp_path / "scores.parquet.gz"
    buffer = io.BytesIO()
    pq.write_table(ROWS, buffer)
    genuine.write_bytes(gzip.compress(buffer.getvalue()))
    code, output = _load(str(genuine))
    assert code == 0, output
    assert _counts(warehouse) == (300, 0, 1)
    assert list(scratch.iterdir()) == []


def test_jsonl_line_over_the_limit_is_quarantined_without_reading_it_into_memory(warehouse, tmp_path):
    """One 64 MiB line in a .jsonl.gz was read whole (1 GiB: 3.37 GB, and a misleading reason).
    A line over JSONL_MAX_LINE_BYTES is quarantined with its length, read past in small pieces;
    the other lines land under their numbers."""
    lines = _jsonl_lines(5)
    huge = json.dumps({**json.loads(lines[2]), "teacher_name": "x" * (64 << 20)})
    path = tmp_path / "long.jsonl.gz"
    path.write_bytes(
        gzip.compress(("\n".join([*lines[:2], huge, *lines[3:]]) + "\n").encode(), compresslevel=1)
    )
    length = len(huge)
    del huge
    code, output, peak = _load_measuring_memory(path)
    assert code == 3, output[:2000]
    assert _counts(warehouse) == (4, 1, 1)
    assert _quarantine_reasons(warehouse) == {
        3: f"the line is too long: {length:,} bytes, the limit is 1 MiB (a JSON line holds one row)"
    }
    assert peak < 16 << 20, f"{peak:,} bytes of Python memory at the peak"
    landed = warehouse.rows(f"SELECT _row_number FROM `{warehouse.raw}`.student_scores ORDER BY 1")
    assert [r[0] for r in landed] == [1, 2, 4, 5]


def test_file_names_that_are_not_utf8_load_and_are_shown_escaped(warehouse, tmp_path):
    """b'bad\\xffname.csv' crashed the load with a traceback, after the files before it had
    committed. It loads; its name is shown, audited and quarantined with the byte as \\xff."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    records = _records()
    _write_csv(folder / "a.csv", records[:100])
    bad = Path(os.fsdecode(os.path.join(os.fsencode(folder), b"bad\xffname.csv")))
    _write_csv(bad, [*records[100:199], dict(records[100], overall_score="150")])
    _write_csv(folder / "c.csv", records[200:300])
    code, output = _load(str(folder))
    assert code == 3, output
    assert "Traceback" not in output
    assert "bad\\xffname.csv: 100 rows read, 99 landed, 1 quarantined" in output, output
    assert "3 sources: 3 ok, 0 failed; 299 rows landed" in output, output
    audited = warehouse.rows(
        f"SELECT source FROM `{warehouse.raw}`.load_audit FINAL WHERE status = 'committed' ORDER BY source"
    )
    assert [Path(r[0]).name for r in audited] == ["a.csv", "bad\\xffname.csv", "c.csv"]
    quarantined = warehouse.scalar(f"SELECT source FROM `{warehouse.raw}`.quarantine")
    assert quarantined.endswith("/incoming/bad\\xffname.csv")


def test_a_file_failing_unexpectedly_does_not_stop_the_others(warehouse, tmp_path, monkeypatch):
    """An unexpected error in one file of a folder stopped the load there, without a word on the
    files committed before. That file is rolled back and reported; the others load, all listed."""
    from loaders.pipeline import Pipeline

    folder = tmp_path / "incoming"
    folder.mkdir()
    records = _records()
    for name, part in (("a.csv", records[:100]), ("b.csv", records[100:200]), ("c.csv", records[200:])):
        _write_csv(folder / name, part)
    insert_rows = Pipeline.insert_rows

    def failing_for_b(self, batch_id, rows):
        if rows.column("student_id")[0].as_py() == records[100]["student_id"]:
            raise RuntimeError("the engine went away")
        insert_rows(self, batch_id, rows)

    monkeypatch.setattr(Pipeline, "insert_rows", failing_for_b)
    code, output = _load(str(folder))
    assert code == 1, output
    assert "Traceback" not in output
    assert "b.csv: not loaded, unexpected error (RuntimeError: the engine went away)" in output, output
    assert "a.csv: 100 rows read, 100 landed" in output
    assert "c.csv: 100 rows read, 100 landed" in output
    assert "3 sources: 2 ok, 1 failed; 200 rows landed" in output
    assert _counts(warehouse) == (200, 0, 2)
    _no_leftovers(warehouse)


# (row index, column, how the value is changed, the character the reason names)
INVISIBLE_EDITS: list[tuple[int, str, Callable[[str], str], str]] = [
    (2, "teacher_id", lambda v: v[:1] + "\u00a0" + v[1:], "U+00A0 (NO-BREAK SPACE)"),
    (3, "school_id", lambda v: "\ufeff" + v, "U+FEFF (ZERO WIDTH NO-BREAK SPACE (BOM))"),
    (4, "district_id", lambda v: v + "\u2060", "U+2060 (WORD JOINER)"),
    (5, "state_id", lambda v: v[0] + "\u200d" + v[1:], "U+200D (ZERO WIDTH JOINER)"),
    (6, "subject", lambda v: v + "\u00ad", "U+00AD (SOFT HYPHEN)"),
    (7, "test_id", lambda v: v.replace("-", "\u202f-"), "U+202F (NARROW NO-BREAK SPACE)"),
    (8, "student_id", lambda v: v + "\u200c", "U+200C (ZERO WIDTH NON-JOINER)"),
    (9, "teacher_id", lambda v: v + "\u2003", "U+2003"),
]


def _typed_table(records: list[dict[str, str]], test_date_type: pa.DataType) -> pa.Table:
    """CSV-like records as the contract's typed columns (Parquet)."""
    import pyarrow.csv as pacsv

    from loaders.schema import INPUT_COLUMNS

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(INPUT_COLUMN_NAMES))
    writer.writeheader()
    writer.writerows(records)
    table = pacsv.read_csv(
        io.BytesIO(buffer.getvalue().encode()),
        convert_options=pacsv.ConvertOptions(column_types={c.name: c.arrow_type for c in INPUT_COLUMNS}),
    )
    index = table.schema.get_field_index("test_date")
    return table.set_column(index, "test_date", table.column(index).cast(test_date_type))


def _write_records(path: Path, kind: str, records: list[dict[str, str]]) -> Path:
    if kind == "csv":
        return _write_csv(path.with_suffix(".csv"), records)
    if kind == "jsonl":
        path = path.with_suffix(".jsonl")
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
        return path
    path = path.with_suffix(".parquet")
    pq.write_table(
        _typed_table(records, pa.date32() if kind == "parquet_engine" else pa.timestamp("ms")), path
    )
    return path


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet_engine", "parquet_pyarrow"])
def test_invisible_characters_in_identifiers_are_quarantined_in_every_format(warehouse, tmp_path, kind):
    """'S000001' and 'S000001' + U+200B landed as two students (and passed the duplicate check).
    A format character or a space other than U+0020 in an id, state_id, subject or test_id sends
    the row to the quarantine naming the column and the code point, alike from CSV, JSON lines and
    Parquet (read by the engine or by pyarrow); in a name it is fine."""
    records = [dict(r) for r in _records()[:20]]
    records[1] = dict(records[0], student_id=records[0]["student_id"] + "\u200b")  # the twin
    for index, column, change, _ in INVISIBLE_EDITS:
        records[index][column] = change(records[index][column])
    records[10]["teacher_name"] = records[10]["teacher_name"] + "\u200d"
    code, output = _load(str(_write_records(tmp_path / "scores", kind, records)))
    assert code == 3, output
    expected = {2: ("student_id", _invisible("student_id", "U+200B (ZERO WIDTH SPACE)"))}
    for index, column, _, character in INVISIBLE_EDITS:
        expected[index + 1] = (column, _invisible(column, character))
    quarantined = warehouse.rows(f"SELECT row_number, column, reason FROM `{warehouse.raw}`.quarantine")
    assert {row: (column, reason) for row, column, reason in quarantined} == expected
    assert _counts(warehouse)[:2] == (20 - len(expected), len(expected))
    assert _landed_value(warehouse, "teacher_name", 11) == [(records[10]["teacher_name"],)]


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet_engine", "parquet_pyarrow"])
def test_invalid_utf8_is_refused_alike_in_every_format(warehouse, tmp_path, kind):
    """Invalid UTF-8 landed from Parquet (isValidUTF8 = 0 in the raw table) but was refused from
    CSV. Every format refuses the file with the same message naming row, column and byte."""
    records = [dict(r) for r in _records()[:20]]
    records[5]["teacher_name"] = "M\u00fcller"
    if kind.startswith("parquet"):
        table = _typed_table(records, pa.date32() if kind == "parquet_engine" else pa.timestamp("ms"))
        names = [v.encode() for v in table.column("teacher_name").to_pylist()]
        names[5] = b"M\xfcller"
        column = pa.array(names, pa.binary()).view(pa.string())
        table = table.set_column(table.schema.get_field_index("teacher_name"), "teacher_name", column)
        path = tmp_path / "scores.parquet"
        pq.write_table(table, path)
    else:
        path = _write_records(tmp_path / "scores", kind, records)
        path.write_bytes(path.read_bytes().replace("M\u00fcller".encode(), b"M\xfcller"))
    code, output = _load(str(path))
    _assert_rejected_file(
        warehouse,
        code,
        output,
        f"{path}, row 6, column teacher_name: not valid UTF-8 (byte 0xFC at byte 2 of the value, "
        "near 'M\\xfcller'); the file must be UTF-8 encoded",
    )


def test_json_numbers_are_checked_as_written_like_csv_text(warehouse, tmp_path):
    """JSON lines accepted 85.0, 1e2 and -0.0 for integer columns (and 1e2 in dimension_scores),
    which CSV refuses: a JSON number is checked as the text it is, with the same reason as CSV."""
    cases = [
        ("overall_score", "85.0"),
        ("overall_score", "1e2"),
        ("overall_performance_level", "-0.0"),
        ("grade", "7.0"),
        ("school_year", "2.025e3"),
        ("dimension_scores", '{"Reading": 1e2}'),
    ]
    records = [dict(r) for r in _records()[:20]]
    lines, csv_records = [], [dict(r) for r in records]
    for i, record in enumerate(records):
        if i < len(cases):
            column, literal = cases[i]
            csv_records[i][column] = literal
            lines.append(json.dumps({**record, column: "@"}).replace('"@"', literal))
        else:
            lines.append(json.dumps(record))
    jsonl = tmp_path / "scores.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    for path in (jsonl, _write_csv(tmp_path / "scores.csv", csv_records)):
        code, output = _load(str(path))
        assert code == 3, output
    by_source: dict[str, dict[int, tuple[str, str]]] = {}
    for source, row, column, reason in warehouse.rows(
        f"SELECT source, row_number, column, reason FROM `{warehouse.raw}`.quarantine"
    ):
        by_source.setdefault(Path(source).suffix, {})[row] = (column, reason)
    assert set(by_source) == {".jsonl", ".csv"}
    assert by_source[".jsonl"] == by_source[".csv"]
    assert sorted(by_source[".jsonl"]) == list(range(1, len(cases) + 1))
    assert by_source[".jsonl"][1] == (
        "overall_score",
        "overall_score '85.0' is not a whole number between 0 and 100",
    )


def _unterminated(lines: list[str]) -> list[str]:
    """Row 7 loses the closing quote of its last value (dimension_scores)."""
    broken = list(lines)
    assert broken[7].endswith('"')
    broken[7] = broken[7][:-1]
    return broken


@pytest.mark.parametrize("quoting", ["minimal", "all"])
def test_csv_unterminated_quote_quarantines_every_line_it_takes(warehouse, tmp_path, quoting):
    """1,000 data lines, row 7 without its closing quote: the parser took row 8 into row 7's value,
    rows_read was 999 and row 8 was gone. Both rows are quarantined, each naming both; the other
    998 land under the numbers of their lines."""
    table = pa.Table.from_batches(list(generate(GeneratorSpec(rows=1000, seed=9, school_years=(2025, 2026)))))
    if quoting == "all":  # pyarrow quotes every string
        lines = _csv_text(table).splitlines()
    else:  # the csv module quotes only values that need it
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(INPUT_COLUMN_NAMES), lineterminator="\n")
        writer.writeheader()
        writer.writerows(_records(table))
        lines = buffer.getvalue().splitlines()
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(_unterminated(lines)) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    audit = warehouse.rows(
        f"SELECT rows_read, rows_landed, rows_quarantined FROM `{warehouse.raw}`.load_audit FINAL"
    )
    assert audit == [(1000, 998, 2)]
    reasons = _quarantine_reasons(warehouse)
    assert set(reasons) == {7, 8}
    assert reasons[7] == reasons[8]
    assert reasons[7].startswith("rows 7-8: unterminated quote: a quoted value of row 7 runs on over row 8")
    landed = warehouse.rows(f"SELECT _row_number FROM `{warehouse.raw}`.student_scores ORDER BY 1")
    assert [r[0] for r in landed] == [n for n in range(1, 1001) if n not in (7, 8)]


def test_csv_row_numbers_are_line_numbers(warehouse, tmp_path):
    """Row N is line N + 1. Blank lines and lines of delimiters only are not rows but keep their
    numbers, and a quoted value holding a line break is quarantined as a row per line: before,
    each of them shifted the numbers of every row after it."""
    lines = _csv_text().splitlines()
    fields = lines[10].split('","')
    fields[2] = fields[2][:3] + "\n" + fields[2][3:]  # a line break inside the quoted teacher_name
    lines[10] = '","'.join(fields)
    text_lines = "\n".join([*lines[:3], "", *lines[3:5], "," * 15, "   ", *lines[5:]]).split("\n")
    path = tmp_path / "numbered.csv"
    path.write_text("\n".join(text_lines) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    split_at = 10 + 3  # lines[10], after the three lines put in before it
    assert text_lines[split_at] == lines[10].split("\n")[0]
    reasons = _quarantine_reasons(warehouse)
    assert set(reasons) == {split_at, split_at + 1}
    assert reasons[split_at].startswith(f"rows {split_at}-{split_at + 1}: a quoted value runs over 2 lines")
    blank = {i for i, line in enumerate(text_lines) if not line.strip(" ,")}
    expected = {i: line.split(",")[0].strip('"') for i, line in enumerate(text_lines) if i and i not in blank}
    del expected[split_at], expected[split_at + 1]
    landed = dict(warehouse.rows(f"SELECT _row_number, student_id FROM `{warehouse.raw}`.student_scores"))
    assert landed == expected
    assert warehouse.scalar(f"SELECT rows_read FROM `{warehouse.raw}`.load_audit FINAL") == 301


@pytest.mark.parametrize("value", ["-3", "abc", "2.5", "1000000000"])
def test_bad_retention_setting_is_a_usage_error(warehouse, tmp_path, value):
    """A negative, non-numeric, fractional or absurd SCORES_RETENTION_YEARS was taken (or failed
    with Python's int() message): it is a usage error naming the variable and its range."""
    path = _write_csv(tmp_path / "scores.csv", _records()[:5])
    result = CliRunner().invoke(cli, ["load", "--quiet", str(path)], env={"SCORES_RETENTION_YEARS": value})
    assert result.exit_code == 2, result.output
    assert "SCORES_RETENTION_YEARS must be a whole number of years from 1 to 100" in result.output
    assert _counts(warehouse) == (0, 0, 0)


def test_rerun_of_a_file_whose_rows_were_all_quarantined_says_so(warehouse, tmp_path):
    """Loaded with every row quarantined, the file was later 'skipped, already loaded' with exit 0.
    The re-run says every row was quarantined, and exits 3 as the first load did."""
    path = _write_csv(tmp_path / "scores.csv", [dict(r, overall_score="150") for r in _records()[:12]])
    code, output = _load(str(path))
    assert code == 3, output
    code, output = _load(str(path))
    assert code == 3, output
    assert "skipped" in output
    assert "every one of its 12 rows was quarantined, none landed" in output, output
    assert _counts(warehouse) == (0, 12, 1)


def test_damaged_warehouse_is_reported_as_damaged_not_busy(tmp_path):
    """A damaged metadata file made the engine fail to start, reported as 'in use by another
    process'. The directory is busy only when its lock is held; otherwise the engine's error and
    the directory are reported."""
    chdb = tmp_path / "chdb"
    made = _run_scores(chdb, "query", "CREATE DATABASE damaged")
    assert made.returncode == 0, made.stderr
    (chdb / "metadata" / "damaged.sql").write_text("garbage ))) (((\n")
    run = _run_scores(chdb, "query", "SELECT 1")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "in use by" not in output
    assert f"cannot open the warehouse data directory {chdb.resolve()} (no other process holds it)" in output
    assert "Error initializing EmbeddedServer" in output
    assert "Traceback" not in output


def test_messages_do_not_quote_a_file_that_is_not_a_score_file(warehouse, tmp_path):
    """/etc/passwd loaded as scores.csv: the message (and load_audit.message) quoted its first
    line. They say what is wrong without its bytes."""
    path = tmp_path / "scores.csv"
    path.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    code, output = _load(str(path))
    _assert_rejected_file(
        warehouse, code, output, f"{path}, row 0: wrong or missing header: the first line has 1 field(s)"
    )
    messages = [r[0] for r in warehouse.rows(f"SELECT message FROM `{warehouse.raw}`.load_audit FINAL")]
    assert messages
    assert all("wrong or missing header" in m for m in messages)
    for secret in ("root:x", "/bin/bash", "nologin"):
        assert secret not in output
        assert not any(secret in m for m in messages)


def test_a_malformed_row_with_invalid_utf8_is_named_not_quoted(warehouse, tmp_path):
    """A row with too few fields and a Latin-1 byte: the parser's error quoted the row (and a
    traceback went to stderr). The file is refused naming the row."""
    lines = _csv_text().encode().splitlines()
    lines[5] = b'"S-SECRET-TOKEN","M\xfcller","short"'
    path = tmp_path / "scores.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, output = _load(str(path))
    _assert_rejected_file(warehouse, code, output, f"{path}, row 5: not valid UTF-8")
    assert "SECRET-TOKEN" not in output
    assert "Exception ignored" not in output


def test_printed_reasons_escape_control_characters(warehouse, tmp_path):
    """A rejected value is shown in the reason; printed, its control characters (a terminal
    escape sequence here) are escaped rather than sent to the terminal."""
    records = _records()
    records[0]["subject"] = "X\x1b[2J"
    code, output = _load(str(_write_csv(tmp_path / "scores.csv", records)))
    assert code == 3, output
    assert "\x1b" not in output
    assert "subject 'X\\x1b[2J' is not a known subject" in output


def test_parquet_with_many_tiny_row_groups_loads_at_a_reasonable_speed(warehouse, tmp_path):
    """Thousands of one-row row groups once loaded slowly: the engine validated each group as its
    own block. Such a file is read many groups per batch, about as fast as the same rows in one
    group."""
    from loaders.discovery import discover
    from loaders.load import LoadOptions, load_file
    from loaders.progress import LoadProgress

    rows = pa.Table.from_batches(list(generate(GeneratorSpec(rows=3000, seed=11, school_years=(2025, 2026)))))
    one, tiny = tmp_path / "one.parquet", tmp_path / "tiny.parquet"
    pq.write_table(rows, one)
    pq.write_table(rows, tiny, row_group_size=1)
    assert pq.ParquetFile(tiny).metadata.num_row_groups == 3000
    seconds = {}
    for path in (one, tiny):
        started = time.perf_counter()
        result = load_file(
            warehouse.landing, discover([str(path)])[0], LoadOptions(), LoadProgress(enabled=False)
        )
        seconds[path.name] = time.perf_counter() - started
        assert (result.status, result.rows_landed) == ("loaded", 3000), result.message
    assert seconds["tiny.parquet"] < 3 * seconds["one.parquet"] + 1.0, seconds
    landed = warehouse.rows(
        f"SELECT _row_number, student_id FROM `{warehouse.raw}`.student_scores "
        f"WHERE _batch_id = {{b:String}} ORDER BY 1",
        b=result.batch_id,
    )
    assert landed == list(enumerate(rows.column("student_id").to_pylist(), start=1))
