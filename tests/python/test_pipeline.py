"""End to end on the real engine: generate -> land -> dbt build -> marts equal a recompute."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import oracle
from conftest import Warehouse

from loaders import status
from loaders.discovery import discover
from loaders.generator import GeneratorSpec
from loaders.load import LoadOptions, load_file, load_generated
from loaders.progress import LoadProgress
from loaders.schema import BATCH_COLUMNS, INPUT_COLUMN_NAMES, INPUT_COLUMNS

QUIET = LoadProgress(enabled=False)


def _current(warehouse: Warehouse) -> list[dict[str, Any]]:
    return oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw))


def test_generate_load_build_gives_exact_marts(warehouse):
    result = load_generated(warehouse.landing, GeneratorSpec(rows=12_000, seed=7), QUIET)
    assert (result.status, result.rows_read, result.rows_landed, result.rows_quarantined) == (
        "loaded",
        12_000,
        12_000,
        0,
    )

    warehouse.dbt("build")

    db = warehouse.db
    assert warehouse.scalar(f"SELECT count() FROM `{db}`.fct_student_scores") == 12_000
    engine, sorting, partition = warehouse.rows(
        "SELECT engine, sorting_key, partition_key FROM system.tables WHERE database = {d:String} "
        "AND name = 'fct_student_scores'",
        d=db,
    )[0]
    assert engine == "MergeTree"
    assert sorting == "school_year, district_id, school_id, teacher_id, test_id, student_id"
    assert partition.replace("(", "").replace(")", "") == "toYYYYMMtest_date"
    # storage: the JSON text (and the source row number) in ZSTD, the projection still there
    codecs = warehouse.rows(
        "SELECT database, table, name, compression_codec FROM system.columns "
        "WHERE database IN ({d:String}, {r:String}) AND compression_codec != '' ORDER BY ALL",
        d=db,
        r=warehouse.raw,
    )
    # the ledger's codecs (loaders/schema.py) on the per-score tables that have those columns
    ledger = {c.name: f"CODEC({c.codec})" for c in (*INPUT_COLUMNS, *BATCH_COLUMNS) if c.codec}
    assert set(ledger) == {"_row_number", "dimension_scores"}
    per_score = {
        (warehouse.raw, "student_scores"): ledger,
        (db, "fct_student_scores"): ledger,
        (db, "srv_student_scores_by_teacher"): {"dimension_scores": ledger["dimension_scores"]},
    }
    assert codecs == sorted(
        (database, table, name, codec)
        for (database, table), columns in per_score.items()
        for name, codec in columns.items()
    )
    assert (
        warehouse.scalar(
            "SELECT count() FROM system.projections "
            "WHERE database = {d:String} AND table = 'fct_student_scores'",
            d=db,
        )
        == 1
    )
    current = _current(warehouse)
    assert len(current) == 12_000
    oracle.assert_all_aggregates_match(warehouse.client, db, current)

    # `scores status` sizes every kind of table: the key-value table by its bytes on disk, the
    # dictionaries by their rows in memory (loaded by the checks above), never a made-up 0
    sizes = status.table_sizes(warehouse.client, [db])
    cells = [[str(cell) for cell in column._cells] for column in sizes.columns]
    shown = {name: [column[i] for column in cells] for i, name in enumerate(cells[0])}
    assert shown[f"{db}.kv_classroom_students"][3].endswith(("KiB", "MiB")), shown
    assert shown[f"{db}.dict_classroom_report"][2].endswith("in memory"), shown
    assert shown[f"{db}.fct_student_scores"][2] == "12,000"


def write_corrections(path: Path, warehouse, count: int, seed: int) -> None:
    """Re-score `count` existing results; every 5th also moves to another (possibly new) teacher."""
    rng = random.Random(seed)
    columns = [
        c if c != "overall_performance_level" else "reported_performance_level" for c in INPUT_COLUMN_NAMES
    ]
    rows = warehouse.rows(
        f"SELECT {', '.join(columns)} FROM `{warehouse.db}`.fct_student_scores"
        f" ORDER BY cityHash64(student_id, test_id, {seed}) LIMIT {count}"
    )
    teachers = [
        r[0] for r in warehouse.rows(f"SELECT DISTINCT teacher_id FROM `{warehouse.db}`.fct_student_scores")
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INPUT_COLUMN_NAMES)
        for i, row in enumerate(rows):
            row = list(row)
            row[13] = rng.randint(0, 100)
            if i % 5 == 0:
                row[1] = rng.choice([*teachers[:3], "T-NEW-1"])
                row[2] = "Moved Teacher"
            writer.writerow(row)


def test_incremental_build_after_corrections_equals_full_recompute(warehouse, tmp_path):
    load_generated(warehouse.landing, GeneratorSpec(rows=6_000, seed=3), QUIET)
    warehouse.dbt("build")

    corrections = tmp_path / "corrections.csv"
    write_corrections(corrections, warehouse, 400, seed=11)
    (source,) = discover([str(corrections)])
    result = load_file(warehouse.landing, source, LoadOptions(), QUIET)
    assert result.rows_landed == 400
    late = load_generated(warehouse.landing, GeneratorSpec(rows=7_000, seed=3), QUIET)
    assert late.rows_landed == 7_000  # the first 6,000 again (unchanged values) plus 1,000 new ones

    warehouse.dbt("run", "-s", "fct_student_scores+")

    current = _current(warehouse)
    assert warehouse.scalar(f"SELECT count() FROM `{warehouse.db}`.fct_student_scores") == len(current)
    oracle.assert_all_aggregates_match(warehouse.client, warehouse.db, current)
    # every incremental model applied each of the three batches exactly once
    ledger = warehouse.rows(
        "SELECT model, count(), uniqExact(batch_id) "
        f"FROM `{warehouse.db}`.dbt_batch_ledger FINAL "
        "WHERE NOT match(batch_id, '^(retention|build|definition|pass):') GROUP BY model"
    )
    assert {m: (n, u) for m, n, u in ledger if m.startswith("agg_") or m.startswith("fct_")} == {
        table: (3, 3) for table in ("fct_student_scores", "agg_dimension_scores", *oracle.AGGREGATES)
    }
    warehouse.dbt("test")


def _failed_tests(result) -> set[tuple[str, str, int]]:
    return {
        (node.node.name, str(node.status), node.failures)
        for node in result.result.results
        if str(node.status) not in ("success", "pass")
    }


def test_project_data_tests_find_bad_rows(warehouse):
    """The project's own versions of generic tests still fail on a bad row: uniqueness
    (tests/generic/unique_combination_of_columns.sql skips its exact GROUP BY when all key hashes
    differ) on a duplicated score; relationships (macros/test_relationships.sql, a set filter
    instead of a join) on a score of an unknown test; the fact row count (read in the ledger's
    order) on a missing score."""
    load_generated(warehouse.landing, GeneratorSpec(rows=3_000, seed=11), QUIET)
    warehouse.dbt("build")
    fact_rows = "assert_fact_rows_equal_valid_raw_rows"
    warehouse.client.command(
        f"DELETE FROM `{warehouse.db}`.fct_student_scores WHERE (school_year, test_id, student_id) IN "
        f"(SELECT school_year, test_id, student_id FROM `{warehouse.db}`.fct_student_scores LIMIT 1)"
    )
    result = warehouse.dbt("test", "-s", fact_rows, expect_success=False)
    assert _failed_tests(result) == {(fact_rows, "fail", 1)}
    uniqueness = "test_name:unique_combination_of_columns"

    for table in ("fct_student_scores", "srv_student_scores_by_teacher"):
        warehouse.dbt("test", "-s", f"{table},{uniqueness}")
        warehouse.client.command(
            f"INSERT INTO `{warehouse.db}`.`{table}` SELECT * FROM `{warehouse.db}`.`{table}` LIMIT 1"
        )
        result = warehouse.dbt("test", "-s", f"{table},{uniqueness}", expect_success=False)
        assert _failed_tests(result) == {
            (f"unique_combination_of_columns_{table}_school_year__test_id__student_id", "fail", 1)
        }

    relationships = "fct_student_scores,test_name:relationships"
    warehouse.dbt("test", "-s", relationships)
    warehouse.client.command(
        f"INSERT INTO `{warehouse.db}`.fct_student_scores "
        f"SELECT * REPLACE ('ZZ-Q9' AS test_id) FROM `{warehouse.db}`.fct_student_scores LIMIT 2"
    )
    result = warehouse.dbt("test", "-s", relationships, expect_success=False)
    unknown_test = ("relationships_fct_student_scores_test_id__test_id__ref_tests_", "fail", 2)
    assert _failed_tests(result) == {unknown_test}


def test_serving_and_disclosure_tests_fail_on_bad_rows(warehouse):
    """The cheaper checks that stand for whole-view scans still fail: the disclosure test (one pass
    over each report view, tests/generic/small_groups_suppressed.sql) when the view shows a group
    below the minimum; the range of each averages dictionary (which is every average
    srv_student_context can show) on an impossible average; the key-value table's row count
    (against srv_student_scores_by_teacher, the rows of srv_student_context) on a missing row, in
    `dbt test` and under `full_tests` (an incremental `dbt build` leaves it to full builds)."""
    load_generated(warehouse.landing, GeneratorSpec(rows=3_000, seed=13), QUIET)
    warehouse.dbt("build")
    disclosure = "test_name:small_groups_suppressed"
    # the views were built for the default minimum; held to a far larger one, each shows groups below it
    result = warehouse.dbt("test", "-s", disclosure, "--vars", "{min_group_size: 1000}", expect_success=False)
    failed = {name.split("_ref_")[0] for name, status, _ in _failed_tests(result) if status == "fail"}
    assert {name.split("__")[0] for name in failed} == {
        f"small_groups_suppressed_rpt_{level}_scores_{first}"
        for level, first in (
            ("classroom", "excellent_count"),
            ("school_grade", "excellent_count"),
            ("district_grade", "excellent_count"),
            ("district", "excellent_count"),
            ("dimension", "school_year"),
        )
    }, failed
    warehouse.dbt("test", "-s", disclosure)

    for mart, dictionary in (
        ("agg_classroom_scores", "dict_classroom_averages"),
        ("agg_school_grade_scores", "dict_school_grade_averages"),
        ("agg_district_grade_scores", "dict_district_grade_averages"),
    ):
        warehouse.client.command(
            f"ALTER TABLE `{warehouse.db}`.{mart} UPDATE avg_score = 150 "
            f"WHERE student_count = (SELECT max(student_count) FROM `{warehouse.db}`.{mart}) "
            "SETTINGS mutations_sync = 1"
        )
        warehouse.client.command(f"SYSTEM RELOAD DICTIONARY `{warehouse.db}`.{dictionary}")
        result = warehouse.dbt("test", "-s", f"{dictionary},test_name:accepted_range", expect_success=False)
        assert {(name, status) for name, status, _ in _failed_tests(result)} == {
            (f"accepted_range_{dictionary}_avg_score__100__0", "fail")
        }

    reconcile = "kv_classroom_students,test_name:report_rows_reconcile"
    warehouse.dbt("test", "-s", reconcile)
    students = f"`{warehouse.db}`.srv_student_scores_by_teacher"
    warehouse.client.command(
        f"DELETE FROM {students} WHERE (school_year, test_id, student_id) IN "
        f"(SELECT school_year, test_id, student_id FROM {students} LIMIT 1)"
    )
    result = warehouse.dbt("test", "-s", reconcile, expect_success=False)
    assert len(_failed_tests(result)) == 1
    # a whole-table check (meta whole_table_only): an incremental `dbt build` leaves it to full
    # builds, `full_tests` and `dbt test`
    warehouse.dbt("build", "-s", "kv_classroom_students")
    result = warehouse.dbt(
        "build", "-s", "kv_classroom_students", "--vars", "{full_tests: true}", expect_success=False
    )
    assert len(_failed_tests(result)) == 1


def test_build_reruns_the_tests_of_what_changed_and_of_tables_changed_outside_dbt(warehouse):
    """`dbt build` skips a data test whose tables stand where they stood at its last pass
    (macros/materializations/test.sql). A table changed since, by a build or by hand, has its tests
    run again on the whole table, and `full_tests` runs them all: each catches the bad rows."""
    load_generated(warehouse.landing, GeneratorSpec(rows=3_000, seed=5), QUIET)
    warehouse.dbt("build")
    warehouse.dbt("build")  # nothing new: every test passes as recorded
    passes = f"SELECT count() FROM `{warehouse.db}`.dbt_batch_ledger FINAL WHERE startsWith(model, 'test:')"
    recorded = warehouse.scalar(passes)
    assert recorded > 50

    # a change made outside dbt: an impossible count in one classroom row
    warehouse.client.command(
        f"ALTER TABLE `{warehouse.db}`.agg_classroom_scores UPDATE student_count = 0 "
        "WHERE teacher_id = (SELECT min(teacher_id) FROM "
        f"`{warehouse.db}`.agg_classroom_scores) SETTINGS mutations_sync = 1"
    )
    result = warehouse.dbt("build", "-s", "agg_classroom_scores", expect_success=False)
    failed = {name for name, status, _ in _failed_tests(result) if status == "fail"}
    assert "accepted_range_agg_classroom_scores_student_count__1" in failed
    assert any(name.startswith("counts_reconcile_with_facts_agg_classroom_scores") for name in failed)

    # the same state fails again on the next build (only passes are recorded) and under full_tests
    result = warehouse.dbt("build", "-s", "agg_classroom_scores", expect_success=False)
    assert "accepted_range_agg_classroom_scores_student_count__1" in {n for n, _, _ in _failed_tests(result)}
    result = warehouse.dbt(
        "build", "-s", "agg_classroom_scores", "--vars", "{full_tests: true}", expect_success=False
    )
    assert "accepted_range_agg_classroom_scores_student_count__1" in {n for n, _, _ in _failed_tests(result)}
    # a full rebuild repairs the table; its tests run and pass
    warehouse.dbt("build", "-s", "agg_classroom_scores", "--full-refresh")
    assert warehouse.scalar(passes) > recorded
