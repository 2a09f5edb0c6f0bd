"""Loaders on the real engine: validation, quarantine, audit, idempotency and hostile files.

Every bad file must give exit code 1 and a message naming the file (and row and column where
there is one), and leave nothing of itself in the raw tables.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cli.main import cli
from loaders.generator import GeneratorSpec, generate
from loaders.schema import INPUT_COLUMN_NAMES

ROWS = pa.Table.from_batches(list(generate(GeneratorSpec(rows=300, seed=4, school_years=(2025, 2026)))))


def _csv_text(table: pa.Table = ROWS) -> str:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return buffer.getvalue().decode()


def _records(table: pa.Table = ROWS) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_csv_text(table))))


def _write_csv(path: Path, records: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or list(INPUT_COLUMN_NAMES))
        writer.writeheader()
        writer.writerows(records)
    return path


def _load(*args: str):
    result = CliRunner().invoke(cli, ["load", "--quiet", *args], catch_exceptions=False)
    return result.exit_code, result.output


def _counts(warehouse) -> tuple[int, int, int]:
    raw, q, audit = warehouse.raw, warehouse.raw, warehouse.raw
    return (
        warehouse.scalar(f"SELECT count() FROM `{raw}`.student_scores"),
        warehouse.scalar(f"SELECT count() FROM `{q}`.quarantine"),
        warehouse.scalar(f"SELECT count() FROM `{audit}`.load_audit FINAL WHERE status = 'committed'"),
    )


def _no_leftovers(warehouse) -> None:
    left = warehouse.scalar(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name LIKE '\\_landing%'",
        d=warehouse.raw,
    )
    assert left == 0, "landing pipeline tables were left behind"


# -- good loads ---------------------------------------------------------------------------------


def test_csv_load_is_idempotent(warehouse, tmp_path):
    path = _write_csv(tmp_path / "scores.csv", _records())
    code, output = _load(str(path))
    assert code == 0, output
    assert "300 landed, 0 quarantined" in output
    first = _counts(warehouse)
    code, output = _load(str(path))
    assert code == 0
    assert "skipped" in output
    assert "already loaded" in output
    assert _counts(warehouse) == first == (300, 0, 1)
    _no_leftovers(warehouse)


@pytest.mark.parametrize("suffix", [".parquet", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet.gz"])
def test_every_format_lands_the_same_rows(warehouse, tmp_path, suffix):
    from loaders.writers import write_batches

    path = tmp_path / f"scores{suffix}"
    write_batches(ROWS.to_batches(), path)
    code, output = _load(str(path))
    assert code == 0, output
    landed = warehouse.rows(
        f"SELECT student_id, test_id, school_year, overall_score, test_date, dimension_scores, _row_number "
        f"FROM `{warehouse.raw}`.student_scores ORDER BY _row_number"
    )
    expected = ROWS.select(
        ["student_id", "test_id", "school_year", "overall_score", "test_date", "dimension_scores"]
    ).to_pylist()
    assert [tuple(r[:6]) for r in landed] == [tuple(e.values()) for e in expected]
    assert [r[6] for r in landed] == list(range(1, 301))


def test_folder_and_glob(warehouse, tmp_path):
    records = _records()
    folder = tmp_path / "incoming"
    folder.mkdir()
    _write_csv(folder / "a.csv", records[:100])
    _write_csv(folder / "b.csv", records[100:250])
    (folder / "notes.txt").write_text("not a score file")
    code, output = _load(str(folder))
    assert code == 0, output
    assert _counts(warehouse)[0] == 250
    code, output = _load(str(folder / "*.csv"))
    assert code == 0
    assert output.count("skipped") == 2


# -- rows that fail validation -------------------------------------------------------------------

BAD_VALUES = [
    ("overall_score", "150", "overall_score 150 is outside 0-100"),
    ("overall_score", "-3", "overall_score '-3' is not a whole number"),
    ("overall_score", "87.5", "overall_score '87.5' is not a whole number"),
    ("overall_score", "", "overall_score is missing"),
    ("grade", "2", "grade 2 is outside 3-12"),
    ("grade", "ten", "grade 'ten' is not a whole number"),
    ("overall_performance_level", "5", "overall_performance_level 5 is outside 1-4"),
    ("test_date", "2025-02-30", "test_date '2025-02-30' is not a date"),
    ("test_date", "14/10/2025", "is not a date in the form YYYY-MM-DD"),
    ("test_date", "2019-10-14", "is outside school year"),
    ("school_year", "20x5", "school_year '20x5' is not a whole number"),
    ("subject", "ART", "subject 'ART' is not a known subject"),
    ("test_id", "ELA-Q9", "test_id 'ELA-Q9' is not a known test"),
    ("student_id", "  ", "student_id is missing"),
    ("teacher_id", "T\x01X", "teacher_id contains control characters"),
    ("state_id", "California", "state_id 'California' is not a two-letter state code"),
    ("dimension_scores", '{"Reading": 101}', "is not a JSON object"),
    ("dimension_scores", "{not json", "is not a JSON object"),
    ("dimension_scores", '{"Reading": "high"}', "is not a JSON object"),
    ("teacher_name", "x" * 5000, "teacher_name is too long: 5000 characters, the limit is 200"),
    ("school_name", "é" * 201, "school_name is too long: 201 characters, the limit is 200"),
    ("overall_score", "1000000", "overall_score '1000000' is not a whole number between 0 and 100"),
    ("grade", "+013", "grade 13 is outside 3-12"),
]

# Valid values written an unusual way: each must land, typed.
UNUSUAL_VALUES = [
    ("grade", "+07", "grade", 7),
    ("overall_score", "0100", "overall_score", 100),
    ("overall_performance_level", "004", "overall_performance_level", 4),
    ("school_year", "+{}", "school_year", None),  # the row's own year, with a plus sign
    ("teacher_name", "é" * 200, "lengthUTF8(teacher_name)", 200),  # 400 bytes, 200 characters
]


def test_invalid_rows_go_to_quarantine_with_row_column_and_reason(warehouse, tmp_path):
    records = _records()
    for i, (column, value, _) in enumerate(BAD_VALUES):
        records[i * 3][column] = value
    path = _write_csv(tmp_path / "mixed.csv", records)
    code, output = _load(str(path))
    assert code == 3, output
    quarantined = {
        row: (column, reason)
        for row, column, reason in warehouse.rows(
            f"SELECT row_number, column, reason FROM `{warehouse.raw}`.quarantine"
        )
    }
    assert len(quarantined) == len(BAD_VALUES)
    for i, (column, _, reason) in enumerate(BAD_VALUES):
        got_column, got_reason = quarantined[i * 3 + 1]
        assert got_column == column, (i, got_column, got_reason)
        assert reason in got_reason, (i, column, got_reason)
    landed, rejected, _ = _counts(warehouse)
    assert (landed, rejected) == (300 - len(BAD_VALUES), len(BAD_VALUES))
    read, landed_audit, quarantined_audit = warehouse.rows(
        f"SELECT rows_read, rows_landed, rows_quarantined FROM `{warehouse.raw}`.load_audit FINAL"
    )[0]
    assert read == landed_audit + quarantined_audit == 300
    ((raw_row_text,),) = warehouse.rows(
        f"SELECT raw_row FROM `{warehouse.raw}`.quarantine WHERE row_number = 1"
    )
    raw_row = json.loads(raw_row_text)
    assert raw_row["overall_score"] == "150"
    assert raw_row["student_id"] == records[0]["student_id"]
    assert f"{path}, row 1, column overall_score" in output


def test_valid_values_written_unusually_land(warehouse, tmp_path):
    records = _records()
    expected = []
    for i, (column, value, _, landed) in enumerate(UNUSUAL_VALUES):
        expected.append(landed if landed is not None else int(records[i][column]))
        records[i][column] = value.format(records[i][column])
    code, output = _load(str(_write_csv(tmp_path / "unusual.csv", records)))
    assert code == 0, output
    for i, (column, _, landed_sql, _) in enumerate(UNUSUAL_VALUES):
        got = warehouse.scalar(
            f"SELECT {landed_sql} FROM `{warehouse.raw}`.student_scores WHERE _row_number = {i + 1}"
        )
        assert got == expected[i], (column, got)


def test_rows_with_too_few_or_too_many_fields(warehouse, tmp_path):
    lines = _csv_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:5])
    lines[6] = lines[6] + ",extra"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    code, output = _load(str(path))
    assert code == 3, output
    rows = dict(warehouse.rows(f"SELECT row_number, reason FROM `{warehouse.raw}`.quarantine"))
    assert rows[3].startswith("expected 16 fields, found 5")
    assert rows[6].startswith("expected 16 fields, found 17")
    assert _counts(warehouse)[:2] == (298, 2)


def test_duplicate_rows_inside_a_file(warehouse, tmp_path):
    records = _records()[:50]
    conflicting = dict(records[10], overall_score="1")
    path = _write_csv(tmp_path / "dupes.csv", [*records, records[4], conflicting])
    code, _ = _load(str(path))
    assert code == 3
    reasons = dict(warehouse.rows(f"SELECT row_number, reason FROM `{warehouse.raw}`.quarantine"))
    assert reasons == {
        51: "duplicate of row 5",
        52: "conflicting duplicate: same school_year, test_id and student_id as row 11",
    }
    assert _counts(warehouse)[:2] == (50, 2)


def test_jsonl_bad_lines(warehouse, tmp_path):
    records = [dict(r) for r in _records()[:20]]
    lines = [json.dumps(r) for r in records]
    lines[2] = "{broken"
    lines[5] = json.dumps([1, 2])
    lines[7] = json.dumps({**records[7], "comment": "x"})
    path = tmp_path / "scores.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, _ = _load(str(path))
    assert code == 3
    reasons = dict(warehouse.rows(f"SELECT row_number, reason FROM `{warehouse.raw}`.quarantine"))
    assert reasons[3].startswith("not valid JSON")
    assert reasons[6].startswith("expected a JSON object")
    assert reasons[8].startswith("unexpected fields: comment")
    assert _counts(warehouse)[:2] == (17, 3)


def test_parquet_row_numbers_in_quarantine(warehouse, tmp_path):
    scores = ROWS.column("overall_score").to_pylist()
    scores[41] = 200
    table = ROWS.set_column(
        ROWS.schema.get_field_index("overall_score"), "overall_score", pa.array(scores, pa.uint8())
    )
    path = tmp_path / "scores.parquet"
    pq.write_table(table, path)
    code, _ = _load(str(path))
    assert code == 3
    assert warehouse.rows(f"SELECT row_number, column FROM `{warehouse.raw}`.quarantine") == [
        (42, "overall_score")
    ]


def _hostile_parquet_table(test_date_type: pa.DataType) -> pa.Table:
    """ROWS with typed values the rules reject, text with spaces, control characters and nulls."""
    columns = {name: ROWS.column(name).to_pylist() for name in INPUT_COLUMN_NAMES}
    columns["overall_score"][3] = 200
    columns["grade"][5] = 0
    columns["school_year"][7] = 1999
    columns["overall_performance_level"][9] = None
    columns["student_id"][11] = "  S-padded  "
    columns["teacher_id"][13] = "T\x01X"
    columns["dimension_scores"][15] = None
    columns["state_id"][17] = "California"
    columns["test_date"][19] = columns["test_date"][19].replace(year=columns["test_date"][19].year - 3)
    columns["school_name"][21] = None
    columns["subject"][23] = f" {columns['subject'][23].lower()} "
    schema = pa.schema([field.with_nullable(True) for field in ROWS.schema])
    table = pa.table(columns, schema=schema)
    index = table.schema.get_field_index("test_date")
    return table.set_column(index, "test_date", table.column(index).cast(test_date_type))


def _landed_and_quarantined(warehouse) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    columns = ", ".join(INPUT_COLUMN_NAMES)
    landed = warehouse.rows(
        f"SELECT {columns}, _row_number FROM `{warehouse.raw}`.student_scores ORDER BY _row_number"
    )
    quarantined = warehouse.rows(
        f"SELECT row_number, column, reason, raw_row FROM `{warehouse.raw}`.quarantine ORDER BY row_number"
    )
    return landed, quarantined


def test_parquet_read_by_the_engine_lands_what_pyarrow_reading_lands(tmp_path, dbt_target_dir, monkeypatch):
    """Dates as date32: the embedded engine reads the file; as timestamps: pyarrow does. Same
    rows land, the same rows are quarantined with the same reasons and raw rows."""
    from conftest import fresh_warehouse

    from loaders.pipeline import Pipeline

    engine_read = Pipeline.insert_parquet_file
    engine_reads: list[str] = []
    loading: list[str] = []  # the case under way (the engine reads the file by its descriptor)

    def spy(self, batch_id, path, columns):
        engine_reads.append(loading[-1])
        engine_read(self, batch_id, path, columns)

    monkeypatch.setattr(Pipeline, "insert_parquet_file", spy)
    results = []
    for name, date_type in (("engine", pa.date32()), ("pyarrow", pa.timestamp("ms"))):
        loading.append(name)
        path = tmp_path / name / "scores.parquet"
        path.parent.mkdir()
        pq.write_table(_hostile_parquet_table(date_type), path, row_group_size=64)
        with fresh_warehouse(f"parquet_{name}", dbt_target_dir) as warehouse:
            code, output = _load(str(path))
            assert code == 3, output
            results.append(_landed_and_quarantined(warehouse))
            assert _counts(warehouse)[:2] == (293, 7)
            _no_leftovers(warehouse)
    assert engine_reads == ["engine"]
    assert results[0] == results[1]
    quarantined = {row: (column, reason) for row, column, reason, _ in results[0][1]}
    assert quarantined[4] == ("overall_score", "overall_score 200 is outside 0-100")
    assert quarantined[10] == ("overall_performance_level", "overall_performance_level is missing")
    assert quarantined[14][0] == "teacher_id"
    landed = {row[-1]: row for row in results[0][0]}
    assert landed[12][0] == "S-padded"
    subject = INPUT_COLUMN_NAMES.index("subject")
    assert landed[24][subject] == ROWS.column("subject")[23].as_py().upper()


def test_parquet_extra_column_named_row_number_does_not_renumber_rows(warehouse, tmp_path):
    """An ignored extra column `_row_number` (bogus values) must not replace the true row numbers
    that quarantine reasons name: such a file is read through pyarrow."""
    table = _hostile_parquet_table(pa.date32())
    table = table.append_column("_row_number", pa.array([7] * table.num_rows, pa.int64()))
    path = tmp_path / "scores.parquet"
    pq.write_table(table, path)
    code, output = _load("--ignore-extra-columns", str(path))
    assert code == 3, output
    assert _counts(warehouse)[:2] == (293, 7)
    quarantined = {row: (column, reason) for row, column, reason, _ in _landed_and_quarantined(warehouse)[1]}
    assert quarantined[4] == ("overall_score", "overall_score 200 is outside 0-100")
    assert len({row[-1] for row in _landed_and_quarantined(warehouse)[0]}) == 293


def test_parquet_falls_back_to_pyarrow_when_the_engine_cannot_read_it(warehouse, tmp_path, monkeypatch):
    """An engine read that fails part-way: what it landed is discarded and pyarrow reads the file."""
    from loaders.pipeline import Pipeline

    engine_read = Pipeline.insert_parquet_file
    calls = []

    def failing_read(self, batch_id, path, columns):
        engine_read(self, batch_id, path, columns)  # rows landed, then the read "fails"
        calls.append(path)
        raise RuntimeError("simulated engine read error")

    monkeypatch.setattr(Pipeline, "insert_parquet_file", failing_read)
    path = tmp_path / "scores.parquet"
    pq.write_table(ROWS, path)
    code, output = _load(str(path))
    assert code == 0, output
    assert calls, "the engine read was not tried"
    assert _counts(warehouse) == (300, 0, 1)
    landed = warehouse.rows(f"SELECT _row_number FROM `{warehouse.raw}`.student_scores ORDER BY 1")
    assert [r[0] for r in landed] == list(range(1, 301))


# -- files that cannot be loaded -----------------------------------------------------------------


def _assert_rejected_file(warehouse, code: int, output: str, *fragments: str) -> None:
    assert code == 1, output
    for fragment in fragments:
        assert fragment in output, (fragment, output)
    assert "Traceback" not in output
    assert _counts(warehouse) == (0, 0, 0)
    _no_leftovers(warehouse)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, list[str], tuple[str, ...]]]:
    """name -> (path, extra CLI args, fragments the message must contain)."""
    text = _csv_text()
    lines = text.splitlines()
    files: dict[str, tuple[Path, list[str], tuple[str, ...]]] = {}

    def put(
        name: str, filename: str, data: bytes | str, *fragments: str, args: list[str] | None = None
    ) -> None:
        path = tmp_path / name / filename
        path.parent.mkdir()
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        files[name] = (path, args or [], (str(path), *fragments))

    put("empty", "scores.csv", b"", "the file is empty")
    put("wrong_header", "scores.csv", "a,b,c\n1,2,3\n", "wrong or missing header")
    put("missing_header", "scores.csv", "\n".join(lines[1:]) + "\n", "wrong or missing header")
    put(
        "missing_columns",
        "scores.csv",
        text.replace('"district_name",', "", 1),
        "lacks columns: district_name",
    )
    put("semicolons", "scores.csv", text.replace(",", ";"), "semicolon-delimited", "--delimiter")
    put(
        "extra_columns",
        "scores.csv",
        lines[0] + ",comment\n" + "\n".join(f"{x},hi" for x in lines[1:]),
        "unexpected columns: comment",
        "--ignore-extra-columns",
    )
    latin = (
        ("\n".join(lines[:3]) + "\n").encode()
        + lines[3].replace(lines[3].split(",")[2], "M\xfcller").encode("latin-1")
        + b"\n"
    )
    put("bad_encoding", "scores.csv", latin, "row 3", "column teacher_name", "UTF-8")
    put("utf16", "scores.csv", text.encode("utf-16"), "UTF-16")
    put("truncated_gzip", "scores.csv.gz", gzip.compress(text.encode())[:400], "gzip")
    put("not_gzip", "scores.csv.gz", text, "not gzip-compressed")
    put("csv_named_parquet", "scores.parquet", text, "is not a Parquet file", "CSV")
    buffer = io.BytesIO()
    pq.write_table(ROWS, buffer)
    put("parquet_named_csv", "scores.csv", buffer.getvalue(), "is not CSV", "Parquet")
    wrong = ROWS.set_column(
        ROWS.schema.get_field_index("overall_score"),
        "overall_score",
        ROWS.column("overall_score").cast(pa.float64()),
    )
    buffer = io.BytesIO()
    pq.write_table(wrong, buffer)
    put("parquet_wrong_types", "scores.parquet", buffer.getvalue(), "wrong type", "overall_score is double")
    put("json_named_csv", "scores.jsonl", text, "is not JSON lines")
    put("unknown_extension", "scores.txt", text, "unknown file type")
    return files


BAD_FILE_CASES = [
    "empty",
    "wrong_header",
    "missing_header",
    "missing_columns",
    "semicolons",
    "extra_columns",
    "bad_encoding",
    "utf16",
    "truncated_gzip",
    "not_gzip",
    "csv_named_parquet",
    "parquet_named_csv",
    "parquet_wrong_types",
    "json_named_csv",
    "unknown_extension",
]


@pytest.mark.parametrize("case", BAD_FILE_CASES)
def test_bad_file_is_refused_whole(warehouse, tmp_path, case):
    path, args, fragments = _bad_files(tmp_path)[case]
    code, output = _load(*args, str(path))
    _assert_rejected_file(warehouse, code, output, *fragments)


def test_missing_and_unreadable_files(warehouse, tmp_path):
    code, output = _load(str(tmp_path / "nope.csv"))
    _assert_rejected_file(warehouse, code, output, "nope.csv", "no such file")
    link = tmp_path / "dangling.csv"
    link.symlink_to(tmp_path / "gone.csv")
    code, output = _load(str(link))
    _assert_rejected_file(warehouse, code, output, "dangling.csv")
    if os.geteuid() != 0:  # root reads anything
        locked = _write_csv(tmp_path / "locked.csv", _records())
        locked.chmod(0)
        code, output = _load(str(locked))
        _assert_rejected_file(warehouse, code, output, "locked.csv", "permission denied")


def test_extra_columns_load_when_asked(warehouse, tmp_path):
    path, _, _ = _bad_files(tmp_path)["extra_columns"]
    code, output = _load("--ignore-extra-columns", str(path))
    assert code == 0, output
    assert _counts(warehouse)[0] == 300


def test_failure_late_in_a_big_file_rolls_the_batch_back(warehouse, tmp_path):
    """A bad byte after several blocks were already landed: nothing of the file stays."""
    big = pa.Table.from_batches(list(generate(GeneratorSpec(rows=120_000, seed=8))))
    path = tmp_path / "big.csv"
    pacsv.write_csv(big, path)
    bad = dict(_records()[0], teacher_name="M\xfcller")
    line = io.StringIO()
    csv.DictWriter(line, fieldnames=list(INPUT_COLUMN_NAMES)).writerow(bad)
    with path.open("ab") as handle:
        handle.write(line.getvalue().encode("latin-1"))
    code, output = _load(str(path))
    assert code == 1
    assert "row 120001" in output
    assert "UTF-8" in output
    assert _counts(warehouse) == (0, 0, 0)
    assert warehouse.scalar(f"SELECT status FROM `{warehouse.raw}`.load_audit FINAL") == "failed"
    _no_leftovers(warehouse)


def test_status_command(warehouse, tmp_path):
    _load(str(_write_csv(tmp_path / "scores.csv", _records())))
    result = CliRunner().invoke(cli, ["status"], catch_exceptions=False)
    assert result.exit_code == 0
    assert f"{warehouse.raw}.student_scores" in result.output
    assert "committed" in result.output
    assert "Compression" in result.output


def test_parquet_load_read_by_the_engine_reports_progress_while_it_runs(warehouse, tmp_path, monkeypatch):
    """A whole-file insert is one statement: its progress comes from the engine while it runs."""
    from loaders import fast_path, insert_progress
    from loaders.discovery import discover
    from loaders.load import LoadOptions, load_file
    from loaders.progress import LoadProgress

    spec = GeneratorSpec(rows=300_000, seed=5, school_years=(2025, 2026))
    rows = pa.Table.from_batches(list(generate(spec)))
    path = tmp_path / "scores.parquet"
    pq.write_table(rows, path, row_group_size=50_000)
    seen: list[int] = []

    class Recording(LoadProgress):
        def update(self, task, completed, rows, elapsed):
            seen.append(completed)
            super().update(task, completed, rows, elapsed)

    monkeypatch.setattr(insert_progress, "PROGRESS_SECONDS", 0.01)
    # rows are written as they come in blocks of one row group (50k rows), not two big ones at the end
    small_blocks = fast_path.FILE_SETTINGS.replace(
        f"min_insert_block_size_rows = {128 << 10}", "min_insert_block_size_rows = 8192"
    )
    assert small_blocks != fast_path.FILE_SETTINGS
    monkeypatch.setattr(fast_path, "FILE_SETTINGS", small_blocks)
    result = load_file(warehouse.landing, discover([str(path)])[0], LoadOptions(), Recording(enabled=False))
    assert (result.status, result.rows_landed) == ("loaded", 300_000)
    assert any(0 < done < 300_000 for done in seen), seen
    assert seen == sorted(seen)
    assert seen[-1] == 300_000


def test_files_refused_before_their_batch_leave_an_audit_record(warehouse, tmp_path):
    """Every load attempt leaves a record, a file refused as a whole too (empty, binary, a
    truncated gzip, a Parquet file that is not one)."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02" * 2000)
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(_csv_text().encode())[:-20])
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet at all\n")
    for path in (empty, binary, truncated, fake):
        code, output = _load(str(path))
        assert code == 1, output
    audit = warehouse.rows(
        "SELECT source, status, rows_read, message != '' "
        f"FROM `{warehouse.raw}`.load_audit FINAL ORDER BY source"
    )
    assert [(Path(s).name, st, n, has) for s, st, n, has in audit] == [
        (name, "failed", 0, True) for name in sorted(p.name for p in (empty, binary, truncated, fake))
    ]
