"""An independent recomputation of the marts in plain Python, from the raw landed rows.

The warehouse computes everything in SQL; this module recomputes the same numbers from first
principles (latest load wins; percentile_cont quantiles; bands and levels from the seed files) so
tests can compare the two.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import disclosure
import numpy as np

from loaders.config import min_group_size
from loaders.reference import SEEDS_DIR, load_reference
from loaders.schema import BATCH_COLUMNS, INPUT_COLUMNS

CLASSROOM_KEY = ("school_year", "teacher_id", "test_id", "subject", "school_id", "district_id")
# every aggregate mart and its grain
AGGREGATES = {
    "agg_classroom_scores": CLASSROOM_KEY,
    "agg_school_grade_scores": ("school_year", "district_id", "school_id", "test_id", "subject", "grade"),
    "agg_district_grade_scores": ("school_year", "state_id", "district_id", "test_id", "subject", "grade"),
    "agg_district_scores": ("school_year", "state_id", "district_id", "test_id", "subject"),
}
METRICS = (
    "student_count",
    "avg_score",
    "median_score",
    "q1_score",
    "q3_score",
    "min_score",
    "max_score",
    "score_stddev",
    "avg_performance_level",
    "excellent_count",
    "good_count",
    "fair_count",
    "needs_improvement_count",
)
SCORE_KEY = ("school_year", "test_id", "student_id")
# every column the loaders land (loaders/schema.py), as the oracle reads the raw ledger
RAW_COLUMNS = tuple(c.name for c in (*INPUT_COLUMNS, *BATCH_COLUMNS))


def committed_raw_rows(client: Any, raw_db: str) -> list[dict[str, Any]]:
    """Committed rows, each with its batch's commit time (the oracle's notion of "later load")."""
    result = client.query(
        f"""
        SELECT {", ".join(f"s.{c}" for c in RAW_COLUMNS)}, a.committed_at
        FROM `{raw_db}`.student_scores AS s
        INNER JOIN (
            SELECT batch_id, committed_at FROM `{raw_db}`.load_audit FINAL WHERE status = 'committed'
        ) AS a ON s._batch_id = a.batch_id
        """
    )
    return [dict(zip((*RAW_COLUMNS, "_committed_at"), row, strict=True)) for row in result.result_rows]


def current_scores(raw_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest version of every score: the batch committed last, then the highest row number."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in raw_rows:
        key = tuple(row[k] for k in SCORE_KEY)
        if key not in latest or (row["_committed_at"], row["_row_number"]) > (
            latest[key]["_committed_at"],
            latest[key]["_row_number"],
        ):
            latest[key] = row
    reference = load_reference()
    out = []
    for row in latest.values():
        row = dict(row)
        row["performance_level"] = reference.level_for(row["subject"], row["overall_score"])
        out.append(row)
    return out


def _bands() -> dict[str, tuple[int, int]]:
    with (SEEDS_DIR / "score_bands.csv").open() as handle:
        return {r["band"]: (int(r["min_score"]), int(r["max_score"])) for r in csv.DictReader(handle)}


def metrics(scores: list[int], levels: list[int]) -> dict[str, float]:
    values = np.array(scores, dtype=np.float64)
    bands = _bands()
    out = {
        "student_count": len(scores),
        "avg_score": float(values.mean()),
        "median_score": float(np.percentile(values, 50)),
        "q1_score": float(np.percentile(values, 25)),
        "q3_score": float(np.percentile(values, 75)),
        "min_score": float(values.min()),
        "max_score": float(values.max()),
        "score_stddev": float(values.std()),
        "avg_performance_level": float(np.mean(levels)),
    }
    for band, (low, high) in bands.items():
        out[f"{band}_count"] = sum(low <= s <= high for s in scores)
    return out


def group_metrics(
    current: list[dict[str, Any]], key: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, float]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in current:
        groups[tuple(row[k] for k in key)].append(row)
    return {
        key: metrics([r["overall_score"] for r in rows], [r["performance_level"] for r in rows])
        for key, rows in groups.items()
    }


def assert_mart_matches(
    actual: dict[tuple[Any, ...], dict[str, Any]], expected: dict[tuple[Any, ...], dict[str, float]]
) -> None:
    missing = expected.keys() - actual.keys()
    extra = actual.keys() - expected.keys()
    assert not missing, f"{len(missing)} groups missing from the mart, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} groups in the mart that should not exist, e.g. {sorted(extra)[:3]}"
    for key, want in expected.items():
        got = actual[key]
        for name, value in want.items():
            assert abs(float(got[name]) - value) <= 1e-9 * max(1.0, abs(value)), (
                f"{key} {name}: mart has {got[name]}, recompute gives {value}"
            )


DIMENSION_KEY = ("school_year", "district_id", "school_id", "teacher_id", "test_id", "subject", "dimension")


def dimension_metrics(current: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, float]]:
    groups: dict[tuple[Any, ...], list[Decimal]] = defaultdict(list)
    for row in current:
        for name, value in json.loads(row["dimension_scores"], parse_float=Decimal).items():
            key = (*(row[k] for k in DIMENSION_KEY[:-1]), name)
            groups[key].append(Decimal(value))
    return {
        key: {
            "student_count": len(values),
            "avg_dimension_score": float(sum(values) / len(values)),
            "min_dimension_score": float(min(values)),
            "max_dimension_score": float(max(values)),
        }
        for key, values in groups.items()
    }


def retained(current: list[dict[str, Any]], oldest_school_year: int) -> list[dict[str, Any]]:
    return [row for row in current if row["school_year"] >= oldest_school_year]


def assert_all_aggregates_match(client: Any, db: str, current: list[dict[str, Any]]) -> None:
    for table, key in AGGREGATES.items():
        try:
            assert_mart_matches(read_mart(client, db, table, key), group_metrics(current, key))
        except AssertionError as ex:
            raise AssertionError(f"{table}: {ex}") from None
    dimension_columns = ("student_count", "avg_dimension_score", "min_dimension_score", "max_dimension_score")
    try:
        assert_mart_matches(
            read_mart(client, db, "agg_dimension_scores", DIMENSION_KEY, dimension_columns),
            dimension_metrics(current),
        )
    except AssertionError as ex:
        raise AssertionError(f"agg_dimension_scores: {ex}") from None
    facts = client.command(f"SELECT count() FROM `{db}`.fct_student_scores")
    assert facts == len(current), f"fct_student_scores has {facts} rows, the recompute {len(current)}"
    assert_names_match(client, db, current)
    n = min_group_size()
    disclosure.assert_views_follow_the_rule(client, db, n)
    disclosure.assert_nothing_recoverable(client, db, n)
    assert_report_lookups_match(client, db)
    assert_fact_projection_matches(client, db)


NAMES = {"teacher_name": "teacher_id", "school_name": "school_id", "district_name": "district_id"}
NAMED_TABLES = {
    "agg_classroom_scores": ("teacher_name", "school_name", "district_name"),
    "agg_school_grade_scores": ("school_name", "district_name"),
    "agg_district_grade_scores": ("district_name",),
    "agg_district_scores": ("district_name",),
    "srv_student_context": ("teacher_name", "school_name", "district_name"),
}


def current_names(current: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """name column -> id -> the non-empty name of the id's most recently loaded current score."""
    out: dict[str, dict[str, str]] = {}
    ordered = sorted(current, key=lambda r: (r["_committed_at"], r["_row_number"]))
    for column, id_column in NAMES.items():
        names: dict[str, str] = {}
        for row in ordered:
            names.setdefault(row[id_column], "")
            if row[column]:
                names[row[id_column]] = row[column]
        out[column] = names
    return out


def assert_names_match(client: Any, db: str, current: list[dict[str, Any]]) -> None:
    """Every mart shows one name per id, the current one."""
    expected = current_names(current)
    for table, columns in NAMED_TABLES.items():
        ids = [NAMES[c] for c in columns]
        rows = client.query(
            f"SELECT DISTINCT {', '.join(ids + list(columns))} FROM `{db}`.`{table}`"
        ).result_rows
        for row in rows:
            for i, column in enumerate(columns):
                want = expected[column].get(row[i], "")
                assert row[len(ids) + i] == want, (
                    f"{table}.{column} of {row[i]}: {row[len(ids) + i]!r}, expected {want!r}"
                )


def read_mart(
    client: Any, db: str, table: str, key: tuple[str, ...], columns: tuple[str, ...] = METRICS
) -> dict[tuple[Any, ...], dict[str, Any]]:
    result = client.query(f"SELECT {', '.join(key)}, {', '.join(columns)} FROM `{db}`.`{table}`")
    out = {}
    for row in result.result_rows:
        out[tuple(row[: len(key)])] = dict(zip(columns, row[len(key) :], strict=True))
    return out


# serving dictionaries and key-value tables (models/serving/*_report.sql): the report query they
# answer, as
# (mart, lookup key, the report's columns, index of the column the rows are ordered by, descending)
REPORT_LOOKUPS: dict[str, tuple[str, tuple[str, ...], str, int, bool]] = {
    "dict_classroom_report": (
        "rpt_classroom_scores",
        ("school_year", "teacher_id", "test_id"),
        "teacher_id, teacher_name, toString(test_id), toString(subject), is_suppressed, suppression_label, "
        "student_count, avg_score, median_score, excellent_count, good_count, fair_count, "
        "needs_improvement_count",
        3,
        False,
    ),
    "dict_school_grade_report": (
        "rpt_school_grade_scores",
        ("school_year", "school_id", "test_id"),
        "grade, toString(subject), is_suppressed, suppression_label, student_count, avg_score, median_score, "
        "score_stddev",
        0,
        False,
    ),
    "dict_state_district_report": (
        "rpt_district_scores",
        ("school_year", "state_id"),
        "district_id, district_name, toString(test_id), toString(subject), is_suppressed, suppression_label, "
        "student_count, avg_score, median_score",
        7,
        True,
    ),
    "srv_student_context_report": (
        "srv_student_context",
        ("school_year", "teacher_id", "test_id"),
        "student_id, overall_score, performance_level, dimension_scores, classroom_avg_score, "
        "school_grade_avg_score, district_grade_avg_score",
        0,
        False,
    ),
}


# dictionaries that also hold each answer as JSON text (`report_json`, macros/serving.sql)
JSON_TEXT_REPORTS = ("dict_state_district_report",)


def _report_row(value: Any) -> tuple[Any, ...]:
    return tuple(value.values()) if isinstance(value, dict) else tuple(value)


def assert_report_lookups_match(client: Any, db: str, only: tuple[str, ...] = ()) -> None:
    """Every report dictionary (or those in `only`) answers every key exactly as the report query
    on its mart does."""
    for dictionary, (mart, key, columns, order, descending) in REPORT_LOOKUPS.items():
        if only and dictionary not in only:
            continue
        width = len(key)
        expected: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for row in client.query(f"SELECT {', '.join(key)}, {columns} FROM `{db}`.`{mart}`").result_rows:
            expected[tuple(str(v) if i else v for i, v in enumerate(row[:width]))].append(tuple(row[width:]))
        # key-value tables (kv_*) hold the key as one tuple column
        key_sql = (
            ", ".join(key)
            if dictionary.startswith("dict_")
            else "classroom_key.1, classroom_key.2, classroom_key.3"
        )
        served = {
            tuple(row[:width]): [_report_row(r) for r in row[width]]
            for row in client.query(f"SELECT {key_sql}, report_rows FROM `{db}`.`{dictionary}`").result_rows
        }
        assert set(served) == set(expected), f"{dictionary}: keys differ from {mart}"
        if dictionary in JSON_TEXT_REPORTS:
            texts = client.query(f"SELECT {key_sql}, report_json FROM `{db}`.`{dictionary}`").result_rows
            as_text = {tuple(r[:width]): [tuple(o.values()) for o in json.loads(r[width])] for r in texts}
            assert as_text == served, f"{dictionary}: report_json differs from report_rows"
        for group, rows in served.items():
            assert sorted(rows) == sorted(expected[group]), (
                f"{dictionary}{group}: {rows} != {expected[group]}"
            )
            # suppressed values (NULL) come last, as the engine sorts them
            ordered = [r[order] for r in rows]
            present = [v for v in ordered if v is not None]
            assert ordered == sorted(present, reverse=descending) + [None] * (len(ordered) - len(present)), (
                f"{dictionary}{group}: not in report order"
            )
        if served:
            group, rows = next(iter(served.items()))
            placeholders = ", ".join(f"{{k{i}:{'UInt16' if i == 0 else 'String'}}}" for i in range(width))
            lookup = (
                f"SELECT dictGet('{db}.{dictionary}', 'report_rows', ({placeholders}))"
                if dictionary.startswith("dict_")
                else f"SELECT report_rows FROM `{db}`.`{dictionary}` WHERE classroom_key = ({placeholders})"
            )
            looked_up = client.query(
                lookup, parameters={f"k{i}": v for i, v in enumerate(group)}
            ).result_rows[0][0]
            assert [_report_row(r) for r in looked_up] == rows, (
                f"{dictionary}: the key lookup differs from a scan"
            )


STATE_DISTRICTS_FROM_FACTS = (
    "SELECT school_year, state_id, district_id, test_id, subject, count(), avg(overall_score), "
    "quantileExactInclusive(0.5)(overall_score) FROM `{db}`.fct_student_scores "
    "GROUP BY school_year, state_id, district_id, test_id, subject ORDER BY ALL"
)


def assert_fact_projection_matches(client: Any, db: str) -> None:
    """The fact table's aggregate projection answers state questions as a scan of its rows does."""
    sql = STATE_DISTRICTS_FROM_FACTS.format(db=db)
    projected = client.query(sql, settings={"force_optimize_projection": 1}).result_rows
    scanned = client.query(sql, settings={"optimize_use_projections": 0}).result_rows
    assert projected == scanned, "fct_student_scores: projection state_district_scores differs from its rows"
