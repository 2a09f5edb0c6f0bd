"""Marts stay exactly equal to a from-scratch recompute after any sequence of loads.

A property test (hypothesis) replays random sequences of: loads of new rows (including late
scores for earlier tests), corrections (a new score for a student and test, sometimes with another
teacher), reloads of an already loaded file (skipped) and forced reloads (a new batch with the same
values), with incremental `dbt run`s in between. After every run each mart must equal the
independent Python recomputation in oracle.py. Retention is tested on its own.
"""

from __future__ import annotations

import csv
import random
import threading
from pathlib import Path
from typing import Any

import oracle
import pyarrow as pa
import pyarrow.csv as pacsv
from conftest import fresh_warehouse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from loaders.discovery import discover
from loaders.generator import GeneratorSpec, generate
from loaders.load import LoadOptions, load_file, load_generated
from loaders.progress import LoadProgress
from loaders.reference import load_reference
from loaders.schema import INPUT_COLUMN_NAMES

QUIET = LoadProgress(enabled=False)
REFERENCE = load_reference()
SLICES = 5
BASE = pa.Table.from_batches(list(generate(GeneratorSpec(rows=2_000, seed=5, school_years=(2025, 2026)))))

operation = st.one_of(
    st.tuples(st.just("load"), st.integers(0, SLICES - 1)),
    st.tuples(st.just("correct"), st.integers(1, 30), st.booleans(), st.integers(0, 10**6)),
    st.tuples(st.just("reload"), st.integers(0, SLICES - 1)),
    st.tuples(st.just("force_reload"), st.integers(0, SLICES - 1)),
    st.tuples(st.just("build")),
)


def _slice_file(directory: Path, k: int) -> Path:
    """Every SLICES-th row from k: each slice spans all tests, so later slices are late scores."""
    path = directory / f"slice-{k}.csv"
    if not path.exists():
        rows = BASE.take(pa.array(range(k, BASE.num_rows, SLICES)))
        pacsv.write_csv(rows, path)
    return path


def _write_corrections(path: Path, current: list[dict[str, Any]], count: int, move: bool, seed: int) -> bool:
    if not current:
        return False
    rng = random.Random(seed)
    chosen = rng.sample(current, min(count, len(current)))
    teachers = sorted({row["teacher_id"] for row in current})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INPUT_COLUMN_NAMES)
        for row in chosen:
            score = rng.randint(0, 100)
            # a corrected score comes with its level, as a source system reports it
            level = REFERENCE.level_for(row["subject"], score)
            values = {**row, "overall_score": score, "overall_performance_level": level}
            if move:
                values["teacher_id"] = rng.choice([*teachers, "T-NEW"])
                values["teacher_name"] = "Reassigned Teacher"
            # names change, or are left empty, with corrections: marts show the current ones
            name = rng.choice(["teacher_name", "school_name", "district_name", None])
            if name is not None:
                values[name] = rng.choice(["", f"Renamed {seed}"])
            writer.writerow([values[c] for c in INPUT_COLUMN_NAMES])
    return True


def _load(warehouse, path: Path, force: bool = False):
    (source,) = discover([str(path)])
    return load_file(warehouse.landing, source, LoadOptions(force=force), QUIET)


def _assert_exact(warehouse) -> None:
    current = oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw))
    oracle.assert_all_aggregates_match(warehouse.client, warehouse.db, current)


def _build(warehouse, first: bool) -> None:
    """First build: seeds and every model; then incremental runs of the fact table and its children."""
    if first:
        warehouse.dbt("seed")
        warehouse.dbt("run")
    else:
        warehouse.dbt("run", "-s", "fct_student_scores+")


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: every example costs dbt runs
)
@given(operations=st.lists(operation, min_size=2, max_size=7))
def test_marts_equal_recompute_after_any_sequence(operations, chdb_path, dbt_target_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("replay")
    with fresh_warehouse("replay", dbt_target_dir) as warehouse:
        loaded: set[int] = set()
        built = False
        for step, op in enumerate([*operations, ("build",)]):
            kind = op[0]
            if kind == "load":
                result = _load(warehouse, _slice_file(directory, op[1]))
                assert result.status == ("skipped" if op[1] in loaded else "loaded")
                loaded.add(op[1])
            elif kind == "reload" and op[1] in loaded:
                assert _load(warehouse, _slice_file(directory, op[1])).status == "skipped"
            elif kind == "force_reload" and op[1] in loaded:
                assert _load(warehouse, _slice_file(directory, op[1]), force=True).status == "loaded"
            elif kind == "correct":
                current = oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw))
                path = directory / f"correction-{step}.csv"
                if _write_corrections(path, current, op[1], op[2], op[3]):
                    assert _load(warehouse, path).rows_landed == min(op[1], len(current))
            elif kind == "build" and loaded:
                _build(warehouse, first=not built)
                built = True
                _assert_exact(warehouse)
        if built:
            warehouse.dbt("test", "-s", "fct_student_scores+")


def test_full_refresh_equals_incremental(warehouse, tmp_path):
    """The same data built incrementally in three steps and rebuilt from scratch give equal marts."""
    for k in range(3):
        _load(warehouse, _slice_file(tmp_path, k))
        _build(warehouse, first=k == 0)
    current = oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw))
    path = tmp_path / "corrections.csv"
    _write_corrections(path, current, 50, True, 1)
    _load(warehouse, path)
    warehouse.dbt("run", "-s", "fct_student_scores+")
    tables = [*oracle.AGGREGATES, "agg_dimension_scores", "fct_student_scores", "int_score_distributions"]
    snapshot = {}
    for table in tables:
        columns = [
            name
            for (name,) in warehouse.rows(
                "SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String} "
                "AND name NOT IN "
                "('latest_version', '_batch_id', '_load_sequence', '_row_number', 'versions_loaded')",
                d=warehouse.db,
                t=table,
            )
        ]
        snapshot[table] = (
            columns,
            sorted(warehouse.rows(f"SELECT {', '.join(columns)} FROM `{warehouse.db}`.`{table}`")),
        )
    warehouse.dbt("run", "-s", "fct_student_scores+", "--full-refresh")
    for table, (columns, rows) in snapshot.items():
        rebuilt = sorted(warehouse.rows(f"SELECT {', '.join(columns)} FROM `{warehouse.db}`.`{table}`"))
        assert rebuilt == rows, f"{table} differs after a full refresh"


def test_loaded_dictionaries_follow_a_mart_rebuilt_without_them(warehouse, tmp_path):
    """A run that rebuilds a mart but not the dictionaries over it (dbt run -s <mart>) still
    leaves a process that had loaded them (here: this one, which also runs dbt, like
    `scores serve`) answering lookups from the new mart (on-run-end reload_loaded_dictionaries)."""
    _load(warehouse, _slice_file(tmp_path, 0))
    _build(warehouse, first=True)
    dictionaries = ("dict_classroom_report", "dict_school_grade_report", "dict_state_district_report")
    oracle.assert_report_lookups_match(warehouse.client, warehouse.db, only=dictionaries)  # loads them
    current = oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw))
    path = tmp_path / "corrections.csv"
    assert _write_corrections(path, current, 40, True, 7)
    _load(warehouse, path)
    warehouse.dbt(
        "run", "-s", "fct_student_scores+", "--exclude", "dict_classroom_report dict_school_grade_report"
    )
    loaded = dict(
        warehouse.rows(
            "SELECT name, status FROM system.dictionaries WHERE database = {d:String}", d=warehouse.db
        )
    )
    assert loaded["dict_classroom_report"] == "LOADED"
    oracle.assert_report_lookups_match(warehouse.client, warehouse.db, only=dictionaries)


def test_retention_drops_old_school_years_everywhere(chdb_path, dbt_target_dir):
    """Old school years leave every layer together; the marts keep matching the facts."""
    years = (2019, 2021, 2025, 2026)
    with fresh_warehouse("retention", dbt_target_dir, SCORES_RETENTION_YEARS="20") as warehouse:
        load_generated(warehouse.landing, GeneratorSpec(rows=3_000, seed=9, school_years=years), QUIET)
        _build(warehouse, first=True)
        assert {
            y
            for (y,) in warehouse.rows(
                f"SELECT DISTINCT school_year FROM `{warehouse.db}`.fct_student_scores"
            )
        } == set(years)

        oldest = warehouse.settings.retained_from() + 15  # what 5 years of retention keep
        warehouse.dbt("run", "-s", "fct_student_scores+", "--vars", "{retention_years: 5}")

        for table in (
            *oracle.AGGREGATES,
            "fct_student_scores",
            "int_score_distributions",
            "agg_dimension_scores",
        ):
            expired = warehouse.scalar(
                f"SELECT count() FROM `{warehouse.db}`.`{table}` WHERE school_year < {oldest}"
            )
            assert expired == 0, f"{table} still has {expired} rows of expired school years"
        current = oracle.retained(
            oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw)), oldest
        )
        assert current, "some school years must remain"
        oracle.assert_all_aggregates_match(warehouse.client, warehouse.db, current)


def test_loader_rejects_rows_past_retention(warehouse):
    result = load_generated(
        warehouse.landing, GeneratorSpec(rows=1_000, seed=2, school_years=(2015, 2026)), QUIET
    )
    old = warehouse.scalar(
        f"SELECT count() FROM `{warehouse.raw}`.quarantine"
        " WHERE reason LIKE 'school_year 2015 is past the retention%'"
    )
    assert old > 0
    assert result.rows_quarantined == old
    assert result.rows_landed + result.rows_quarantined == 1_000


def test_readers_never_see_a_half_built_mart(warehouse, tmp_path):
    """While incremental runs apply corrections (which change no totals), readers polling the
    marts always see every student counted exactly once: a run swaps whole school years in."""
    for k in range(SLICES):
        _load(warehouse, _slice_file(tmp_path, k))
    _build(warehouse, first=True)
    total = BASE.num_rows
    marts = [
        "agg_classroom_scores",
        "agg_school_grade_scores",
        "agg_district_grade_scores",
        "agg_district_scores",
    ]
    query = " UNION ALL ".join(
        f"SELECT '{mart}', sum(student_count) FROM `{warehouse.db}`.{mart}" for mart in marts
    )
    seen: list[tuple[str, int]] = []
    stop = threading.Event()

    def reader() -> None:
        client = warehouse.settings.connect()
        try:
            while not stop.is_set():
                seen.extend(client.query(query).result_rows)
        finally:
            client.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for run in range(3):
            current = oracle.current_scores(oracle.committed_raw_rows(warehouse.client, warehouse.raw))
            path = tmp_path / f"corrections-{run}.csv"
            _write_corrections(path, current, 200, move=True, seed=run)
            _load(warehouse, path)
            _build(warehouse, first=False)
    finally:
        stop.set()
        thread.join()
    assert len(seen) > 20 * len(marts), "the reader should have polled throughout the runs"
    wrong = [(mart, count) for mart, count in seen if count != total]
    assert not wrong, f"readers saw partial marts: {wrong[:5]}"
    _assert_exact(warehouse)
