"""The exactness cases the random replays never made: several files in one command, a school year's
dimensions corrected away, retention lowered between builds, a district reported under another
state, nearly constant large groups, missing context, a build before any load."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pyarrow as pa
from click.testing import CliRunner
from conftest import fresh_warehouse

from cli.main import cli
from loaders.generator import GeneratorSpec, generate
from loaders.reference import load_reference
from loaders.schema import INPUT_COLUMN_NAMES

BASE = pa.Table.from_batches(
    list(generate(GeneratorSpec(rows=40, seed=11, school_years=(2025, 2026))))
).to_pylist()


REFERENCE = load_reference()


def _row(**values: object) -> dict[str, object]:
    """A valid row (the first generated one) with ``values``; its reported level follows its score."""
    row = {**BASE[0], "test_date": str(BASE[0]["test_date"])}
    row.update(values)
    if "overall_performance_level" not in values:
        row["overall_performance_level"] = REFERENCE.level_for(str(row["subject"]), int(row["overall_score"]))
    return row


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(INPUT_COLUMN_NAMES))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in INPUT_COLUMN_NAMES})
    return path


def _load(*paths: Path) -> None:
    result = CliRunner().invoke(cli, ["load", "--quiet", *map(str, paths)])
    assert result.exit_code in (0, 3), result.output


def test_the_last_file_of_one_command_wins(warehouse, tmp_path):
    """Eight one-row files loaded by one `scores load` command, each setting the same student's
    score: the eighth file's score and teacher name win, incrementally and on a full refresh."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for k in range(1, 9):
        _write(folder / f"part-{k}.csv", [_row(overall_score=50 + k, teacher_name=f"Teacher v{k}")])
    warehouse.dbt("build")
    _load(folder)
    warehouse.dbt("build")
    for flags in ((), ("--full-refresh",)):
        warehouse.dbt("build", *flags)
        assert warehouse.rows(
            f"SELECT overall_score, teacher_name FROM `{warehouse.db}`.fct_student_scores "
            "WHERE student_id = {s:String}",
            s=BASE[0]["student_id"],
        ) == [(58, "Teacher v8")]
        assert warehouse.rows(
            f"SELECT max_score, teacher_name FROM `{warehouse.db}`.agg_classroom_scores "
            "WHERE teacher_id = {t:String} AND test_id = {x:String}",
            t=BASE[0]["teacher_id"],
            x=BASE[0]["test_id"],
        ) == [(58, "Teacher v8")]


def test_a_school_year_whose_dimensions_were_corrected_away_leaves_the_mart(warehouse, tmp_path):
    first = _row(school_year=2025, test_date="2024-10-14", dimension_scores='{"Reading": 70, "Writing": 90}')
    other = _row(
        student_id="S-OTHER", school_year=2026, test_date="2025-10-14", dimension_scores='{"Reading": 80}'
    )
    _load(_write(tmp_path / "first.csv", [first, other]))
    warehouse.dbt("build")
    years = f"SELECT DISTINCT school_year FROM `{warehouse.db}`.agg_dimension_scores ORDER BY 1"
    assert warehouse.rows(years) == [(2025,), (2026,)]
    _load(_write(tmp_path / "correction.csv", [{**first, "dimension_scores": "{}"}]))
    warehouse.dbt("build")
    assert warehouse.rows(years) == [(2026,)]


def test_a_classroom_whose_students_all_moved_leaves_the_lookups(warehouse, tmp_path):
    """Every score of one classroom is corrected to another teacher: the next build drops the
    classroom from every lookup (the key-value table deletes a key only when no student is left
    under it), and the new classroom answers with all of them."""
    rows = [_row(student_id=f"S-MOVE-{k}", overall_score=60 + k) for k in range(4)]
    stays = _row(student_id="S-STAYS", teacher_id="T-STAYS", overall_score=70)
    _load(_write(tmp_path / "first.csv", [*rows, stays]))
    warehouse.dbt("build")
    old, new = BASE[0]["teacher_id"], "T-MOVED-TO"
    key = f"SELECT classroom_key.2 FROM `{warehouse.db}`.kv_classroom_students ORDER BY 1"
    assert warehouse.rows(key) == sorted([(old,), ("T-STAYS",)])
    _load(_write(tmp_path / "moved.csv", [{**row, "teacher_id": new} for row in rows]))
    warehouse.dbt("build")
    assert warehouse.rows(key) == sorted([(new,), ("T-STAYS",)])
    students = warehouse.rows(
        f"SELECT length(report_rows) FROM `{warehouse.db}`.srv_student_context_report "
        "WHERE classroom_key = ({y:UInt16}, {t:String}, {x:String})",
        y=BASE[0]["school_year"],
        t=new,
        x=BASE[0]["test_id"],
    )
    assert students == [(4,)]
    assert warehouse.rows(
        f"SELECT teacher_id FROM `{warehouse.db}`.rpt_classroom_scores ORDER BY 1"
    ) == sorted([(new,), ("T-STAYS",)])


def test_lowering_retention_reaches_every_layer_at_the_next_build(chdb_path, dbt_target_dir, tmp_path):
    with fresh_warehouse("retention_lowered", dbt_target_dir, SCORES_RETENTION_YEARS="9") as warehouse:
        old = _row(school_year=2020, test_date="2019-10-14")
        new = _row(student_id="S-NEW", school_year=2026, test_date="2025-10-14")
        warehouse.landing.ensure_schema()
        _load(_write(tmp_path / "two_years.csv", [old, new]))
        warehouse.dbt("build")
        assert warehouse.scalar(f"SELECT min(school_year) FROM `{warehouse.db}`.agg_classroom_scores") == 2020
        warehouse.dbt("build", "--vars", "{retention_years: 4}")
        for table in (
            f"`{warehouse.raw}`.student_scores",
            f"`{warehouse.db}`.fct_student_scores",
            f"`{warehouse.db}`.int_score_distributions",
            f"`{warehouse.db}`.agg_classroom_scores",
            f"`{warehouse.db}`.agg_school_grade_scores",
            f"`{warehouse.db}`.agg_district_grade_scores",
            f"`{warehouse.db}`.agg_district_scores",
            f"`{warehouse.db}`.agg_dimension_scores",
            f"`{warehouse.db}`.srv_student_context",
        ):
            assert warehouse.scalar(f"SELECT countIf(school_year < 2023) FROM {table}") == 0, table
        assert (
            warehouse.scalar(
                f"SELECT count() FROM `{warehouse.db}`.dict_classroom_report WHERE school_year = 2020"
            )
            == 0
        )
        ttl = warehouse.scalar(
            "SELECT create_table_query FROM system.tables "
            "WHERE database = {d:String} AND name = 'student_scores'",
            d=warehouse.raw,
        )
        assert "school_year + 4" in ttl


def test_a_district_keeps_its_state(warehouse, tmp_path):
    """A later load naming a district's other state is quarantined, not counted twice."""
    section = {"teacher_id": "T-S", "school_id": "SCH-S", "district_id": "D-S", "grade": 5}
    _load(_write(tmp_path / "ca.csv", [_row(student_id="S9", state_id="CA", overall_score=70, **section)]))
    runner = CliRunner().invoke(
        cli,
        [
            "load",
            "--quiet",
            str(
                _write(
                    tmp_path / "nv.csv", [_row(student_id="S8", state_id="NV", overall_score=80, **section)]
                )
            ),
        ],
    )
    assert runner.exit_code == 3
    assert "district D-S is in state CA" in runner.output
    warehouse.dbt("build")
    assert warehouse.rows(
        f"SELECT state_id, student_count FROM `{warehouse.db}`.agg_district_scores WHERE district_id = 'D-S'"
    ) == [("CA", 1)]
    # within one file, the district's first row decides
    rows = [
        _row(
            student_id=f"S{i}",
            state_id=state,
            district_id="D-T",
            **{k: v for k, v in section.items() if k != "district_id"},
        )
        for i, state in enumerate(("OR", "OR", "WA"))
    ]
    assert (
        CliRunner().invoke(cli, ["load", "--quiet", str(_write(tmp_path / "mixed.csv", rows))]).exit_code == 3
    )
    assert warehouse.rows(
        f"SELECT row_number, column FROM `{warehouse.raw}`.quarantine WHERE reason LIKE '%D-T%'"
    ) == [(3, "state_id")]


def test_standard_deviation_of_a_large_nearly_constant_group_is_exact(warehouse, tmp_path):
    rows = [
        _row(student_id=f"S{i:05d}", overall_score=100, overall_performance_level=4) for i in range(20_001)
    ]
    rows.append(_row(student_id="S-LAST", overall_score=99, overall_performance_level=4))
    _load(_write(tmp_path / "flat.csv", rows))
    warehouse.dbt("build")
    stddev = warehouse.scalar(f"SELECT score_stddev FROM `{warehouse.db}`.agg_classroom_scores")
    n = len(rows)
    exact = math.sqrt(n * (20_001 * 100**2 + 99**2) - (20_001 * 100 + 99) ** 2) / n
    assert abs(stddev - exact) / exact < 1e-12


def test_missing_context_is_null_not_zero(warehouse, tmp_path):
    _load(_write(tmp_path / "one.csv", [_row()]))
    warehouse.dbt("build")
    # the school-grade group of this student disappears from its dictionary: the context is NULL
    warehouse.client.command(
        f"DELETE FROM `{warehouse.db}`.agg_school_grade_scores WHERE 1 SETTINGS mutations_sync = 2"
    )
    warehouse.client.command(f"SYSTEM RELOAD DICTIONARY `{warehouse.db}`.dict_school_grade_averages")
    value = warehouse.scalar(f"SELECT school_grade_avg_score FROM `{warehouse.db}`.srv_student_context")
    assert value is None


def test_reported_levels_that_disagree_fail_a_test(warehouse, tmp_path):
    rows = [_row(student_id=f"S{i}", overall_score=10, overall_performance_level=4) for i in range(5)]
    _load(_write(tmp_path / "levels.csv", rows))
    result = warehouse.dbt("build", expect_success=False)
    failed = [str(r.node.name) for r in result.result.results if str(r.status) == "fail"]
    assert failed == ["assert_reported_levels_mostly_agree"]


def test_a_build_before_any_load_says_what_to_do(chdb_path, dbt_target_dir):
    with fresh_warehouse("before_any_load", dbt_target_dir) as warehouse:
        warehouse.client.command(f"DROP DATABASE IF EXISTS `{warehouse.raw}`")
        result = warehouse.dbt("build", expect_success=False)
        assert not result.success
        assert "Load data first" in str(result.exception)


def test_dimension_scores_land_exactly_or_are_quarantined_with_a_reason(warehouse, tmp_path):
    """No silent change: more than 4 decimals, a leading zero (not JSON) or a repeated name is
    quarantined; 4 decimals land and average exactly."""
    rows = [
        _row(student_id="S-OK", dimension_scores='{"Reading": 12.3456, "Writing": 100.0}'),
        _row(student_id="S-FIVE", dimension_scores='{"Reading": 12.34567}'),
        _row(student_id="S-TINY", dimension_scores='{"Reading": 0.00009}'),
        _row(student_id="S-LONG", dimension_scores='{"Reading": 99.99999999999999999}'),
        _row(student_id="S-ZERO", dimension_scores='{"Reading": 07, "Writing": 80}'),
        _row(student_id="S-DUP", dimension_scores='{"Dup": 10, "Dup": 30}'),
    ]
    result = CliRunner().invoke(cli, ["load", "--quiet", str(_write(tmp_path / "dims.csv", rows))])
    assert result.exit_code == 3, result.output
    reasons = dict(
        warehouse.rows(f"SELECT row_number, reason FROM `{warehouse.raw}`.quarantine ORDER BY row_number")
    )
    assert sorted(reasons) == [2, 3, 4, 5, 6]
    assert "at most 4 decimals" in reasons[2]
    assert "names Dup more than once" in reasons[6]
    warehouse.dbt("build")
    assert warehouse.rows(
        "SELECT dimension, toString(avg_dimension_score) "
        f"FROM `{warehouse.db}`.agg_dimension_scores ORDER BY 1"
    ) == [("Reading", "12.3456"), ("Writing", "100")]


def test_names_are_one_current_name_per_id_in_every_mart(warehouse, tmp_path):
    """A rename loaded with one correction renames every classroom of the teacher (every school
    year, one the load never touched too) and the district everywhere; an empty name in a later
    load blanks nothing; incremental and full builds agree."""
    base = {"teacher_id": "T-N", "school_id": "SCH-N", "district_id": "D-N", "state_id": "CA", "grade": 5}
    rows = [
        _row(
            student_id="S1", test_id="ELA-Q1", subject="ELA", school_year=2025, test_date="2024-10-14", **base
        ),
        _row(
            student_id="S2", test_id="ELA-Q1", subject="ELA", school_year=2025, test_date="2024-10-14", **base
        ),
        _row(
            student_id="S1", test_id="ELA-Q1", subject="ELA", school_year=2026, test_date="2025-10-14", **base
        ),
    ]
    for row in rows:
        row.update(teacher_name="Ms Old", school_name="Old School", district_name="Old District")
    _load(_write(tmp_path / "first.csv", rows))
    warehouse.dbt("build")
    renamed = {**rows[1], "teacher_name": "Ms New", "district_name": "New District", "overall_score": 77}
    renamed["overall_performance_level"] = REFERENCE.level_for("ELA", 77)
    _load(_write(tmp_path / "rename.csv", [renamed]))
    blank = {**rows[2], "teacher_name": "", "school_name": "", "district_name": "", "overall_score": 66}
    blank["overall_performance_level"] = REFERENCE.level_for("ELA", 66)
    _load(_write(tmp_path / "blank.csv", [blank]))

    def names() -> set[tuple[str, ...]]:
        found = set()
        for table in ("agg_classroom_scores", "srv_student_context"):
            found |= set(
                warehouse.rows(
                    f"SELECT teacher_name, school_name, district_name FROM `{warehouse.db}`.{table} "
                    "WHERE teacher_id = 'T-N'"
                )
            )
        for table in ("agg_school_grade_scores", "agg_district_grade_scores", "agg_district_scores"):
            found |= {
                ("-", "-", r[0])
                for r in warehouse.rows(
                    f"SELECT district_name FROM `{warehouse.db}`.{table} WHERE district_id = 'D-N'"
                )
            }
        return found

    warehouse.dbt("build")
    assert names() == {("Ms New", "Old School", "New District"), ("-", "-", "New District")}
    warehouse.dbt("build", "--full-refresh")
    assert names() == {("Ms New", "Old School", "New District"), ("-", "-", "New District")}
