"""The queries of a comparison: the project's SQL for the design's four queries and the raw-fact
Query 3, keys sampled from the marts, each engine timed per key with its answers cross-checked,
and the per-query cost of the ways to query chDB in-process.

Single client, bound parameters sampled from real keys (>= --keys per class after a warm-up on
other keys), engines alternating per key. The project answers Q1-Q4 with one key lookup each in
its serving layer (models/serving; keys bound client-side, as clickhouse-connect binds
`%(name)s` parameters) and the raw-fact question with SQL on the fact table; PostgreSQL and
DuckDB run the design's SQL on their aggregates (benchmarks/design.py).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from api import reports
from benchmarks.design import DESIGN_SQL, design_sql
from benchmarks.measure import latency


# The project: the design's lookups are the report API's (api/reports.py): one dictGet on the
# serving dictionaries (models/serving/dict_*_report.sql), which hold every report's whole answer
# per key, and for Q4 one key lookup in an EmbeddedRocksDB table through the view that attaches the
# averages (srv_student_context_report). The
# raw-fact Q3 is the SQL a user writes (served by the fact table's projection).
def _lookup(report: str) -> str:
    """The report API's query of `report`, its parameters named as the sampled keys are: the
    school year `y`, the id `k`, the test `t`."""
    query = reports.queries("scores")[report]
    sql = query.sql
    for (name, _), short in zip(query.parameters, ("y", "k", "t"), strict=False):
        sql = sql.replace("{" + name + ":", "{" + short + ":")
    return sql


# The SQL a BI user writes against the marts (the probe and the client-overhead table time it).
MART_SQL = {
    "classroom": (
        "SELECT teacher_id, teacher_name, test_id, subject, student_count, avg_score, median_score, "
        "excellent_count, good_count, fair_count, needs_improvement_count "
        "FROM scores.agg_classroom_scores "
        "WHERE school_year = {y:UInt16} AND teacher_id = {k:String} AND test_id = {t:String}"
    ),
    "school_by_grade": (
        "SELECT grade, subject, student_count, avg_score, median_score, score_stddev "
        "FROM scores.agg_school_grade_scores "
        "WHERE school_year = {y:UInt16} AND school_id = {k:String} AND test_id = {t:String} ORDER BY grade"
    ),
    "district_comparison": (
        "SELECT district_id, district_name, test_id, subject, student_count AS total_students, "
        "avg_score AS district_avg_score, median_score AS district_median_score "
        "FROM scores.agg_district_scores WHERE school_year = {y:UInt16} AND state_id = {k:String} "
        "ORDER BY district_avg_score DESC"
    ),
    "student_in_context": (
        "SELECT student_id, overall_score, performance_level, dimension_scores, classroom_avg_score, "
        "school_grade_avg_score, district_grade_avg_score FROM scores.srv_student_context "
        "WHERE school_year = {y:UInt16} AND teacher_id = {k:String} AND test_id = {t:String}"
    ),
}


PROJECT_SQL = {
    "classroom": _lookup(reports.CLASSROOM),
    "school_by_grade": _lookup(reports.SCHOOL_GRADES),
    # thousands of rows per answer at 100M: the same lookup of the dictionary's other attribute,
    # the answer as pre-serialized JSON text
    "district_comparison": _lookup(reports.STATE_DISTRICTS).replace("'report_rows'", "'report_json'"),
    "student_in_context": _lookup(reports.STUDENTS),
    "district_comparison_raw": (
        "SELECT district_id, test_id, subject, count() AS total_students, "
        "avg(overall_score) AS district_avg_score, "
        "quantileExactInclusive(0.5)(overall_score) AS district_median_score "
        "FROM scores.fct_student_scores WHERE school_year = {y:UInt16} AND state_id = {k:String} "
        "GROUP BY district_id, test_id, subject ORDER BY district_avg_score DESC"
    ),
}

QUERY_LABELS = {
    "classroom": "Q1 classroom",
    "school_by_grade": "Q2 school by grade",
    "district_comparison": "Q3 districts of a state",
    "student_in_context": "Q4 student in context",
    "district_comparison_raw": "Q3 from raw facts",
}
# answers compared value by value (Q3 on the design's aggregates averages grade averages, so
# only its row count is compared); JSON columns are left out (JSONB re-formats the text)
LOOKUPS = {"classroom", "school_by_grade", "district_comparison", "student_in_context"}
JSON_TEXT_LOOKUPS = {"district_comparison"}
EXACT_ANSWERS = {"classroom", "school_by_grade", "student_in_context", "district_comparison_raw"}


_PLACEHOLDER = re.compile(r"\{(\w+):\w+\}")


def bind_client_side(sql: str, params: dict[str, Any]) -> str:
    """Replace ``{name:Type}`` placeholders by literals escaped by clickhouse-connect.

    This is what clickhouse-connect does for ``%(name)s`` parameters. Binding on the engine
    (``params=``) substitutes into the parsed query and costs more per lookup (the report's
    client-overhead table; benchmarks/README.md, "What each change bought").
    """
    from clickhouse_connect.driver.binding import format_query_value

    return _PLACEHOLDER.sub(lambda m: str(format_query_value(params[m.group(1)])), sql)


# the columns a published report row adds to the design's answer (whether the group is hidden,
# and its label): the comparison runs with suppression off, so they are constant
PUBLISHED_FLAGS = ("is_suppressed", "suppression_label")


def _design_values(row: dict[str, Any]) -> list[Any]:
    """A report row's values, as the design's query answers it."""
    return [value for name, value in row.items() if name not in PUBLISHED_FLAGS]


class Runner:
    """Runs one query class on one engine with bound parameters and returns the rows."""

    def __init__(self, chdb_conn: Any, pg_conn: Any, duck_conn: Any) -> None:  # peers: None if not run
        self.chdb = chdb_conn
        self.pg = pg_conn
        self.duck = duck_conn
        self.pg_sql = {n: design_sql(n, "pg") for n in DESIGN_SQL}
        self.duck_sql = {n: design_sql(n, "duck") for n in DESIGN_SQL}

    def run(self, engine: str, name: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        if engine == "project":
            if name in JSON_TEXT_LOOKUPS:  # one JSON array of objects, as it is stored
                text = self.chdb.query(bind_client_side(PROJECT_SQL[name], params), "RawBLOB").bytes()
                return [_design_values(row) for row in json.loads(text)]
            result = self.chdb.query(bind_client_side(PROJECT_SQL[name], params), "JSONCompact")
            data = json.loads(result.bytes())["data"]
            if name in LOOKUPS:  # one row holding the report's rows
                return [_design_values(row) for row in data[0][0]]
            return list(data)
        if engine == "postgres":
            sql, order = self.pg_sql[name]
            return list(self.pg.execute(sql, [params[p] for p in order]).fetchall())
        sql, order = self.duck_sql[name]
        return list(self.duck.execute(sql, [params[p] for p in order]).fetchall())


def normalise(rows: list[Sequence[Any]]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values: list[Any] = []
        for v in row:
            if isinstance(v, dict) or (isinstance(v, str) and v.startswith("{")):
                continue
            try:
                values.append(round(float(v), 4))
            except (TypeError, ValueError):
                values.append(str(v))
        out.append(tuple(values))
    return sorted(out, key=repr)


def sample_keys(conn: Any, n: int, warmup: int) -> dict[str, list[dict[str, Any]]]:
    """Real keys from the marts: per query class, `warmup` warm-up keys followed by >= n measured ones."""

    def rows(sql: str) -> list[list[Any]]:
        return list(json.loads(conn.query(sql, "JSONCompact").bytes())["data"])

    total = n + warmup
    classrooms = rows(
        "SELECT school_year, teacher_id, test_id FROM scores.agg_classroom_scores "
        f"ORDER BY cityHash64(school_year, teacher_id, test_id) LIMIT {2 * total}"
    )
    schools = rows(
        "SELECT DISTINCT school_year, school_id, test_id FROM scores.agg_school_grade_scores "
        f"ORDER BY cityHash64(school_year, school_id, test_id) LIMIT {total}"
    )
    states = rows(
        "SELECT DISTINCT school_year, state_id FROM scores.agg_district_scores "
        "ORDER BY cityHash64(school_year, state_id)"
    )

    def keyed(items: list[list[Any]]) -> list[dict[str, Any]]:
        return [{"y": int(r[0]), "k": r[1]} | ({"t": r[2]} if len(r) > 2 else {}) for r in items]

    # state-level keys: (school year, state) pairs are few; all of them, cycled to n measurements
    state_keys = keyed(states)
    state_cycle = state_keys[: min(warmup, len(state_keys))] + [
        state_keys[i % len(state_keys)] for i in range(n)
    ]
    return {
        "classroom": keyed(classrooms[:total]),
        "school_by_grade": keyed(schools),
        "district_comparison": state_cycle,
        "student_in_context": keyed(classrooms[total : 2 * total]),
        "district_comparison_raw": state_cycle,
    }


def run_queries(
    runner: Runner, keys: dict[str, list[dict[str, Any]]], warmup: int, engines: Sequence[str]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, key_list in keys.items():
        print(f"queries: {name} ({len(key_list) - warmup} measured keys)", flush=True)
        warm, measured = key_list[:warmup], key_list[warmup:]
        for params in warm:
            for engine in engines:
                runner.run(engine, name, params)
        times: dict[str, list[float]] = {e: [] for e in engines}
        mismatches: list[dict[str, Any]] = []
        for i, params in enumerate(measured):
            answers: dict[str, list[tuple[Any, ...]]] = {}
            for j in range(len(engines)):
                engine = engines[(i + j) % len(engines)]  # alternate who goes first
                started = time.perf_counter()
                rows = runner.run(engine, name, params)
                times[engine].append(time.perf_counter() - started)
                answers[engine] = normalise(rows)
            reference = answers["project"]
            for engine in engines[1:]:
                other = answers[engine]
                same = len(other) == len(reference) and (name not in EXACT_ANSWERS or other == reference)
                if not same and len(mismatches) < 5:
                    mismatches.append(
                        {"engine": engine, "params": params, "rows": [len(reference), len(other)]}
                    )
        distinct = len({json.dumps(p, sort_keys=True) for p in measured})
        results[name] = {
            "measured": len(measured),
            "distinct_keys": distinct,
            "answers_match": not mismatches,
            "mismatches": mismatches,
        } | {
            engine: latency(ts) | {"mean_ms": round(statistics.fmean(ts) * 1000, 3)}
            for engine, ts in times.items()
        }
    return results


def client_overhead(chdb_path: Path, keys: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-query cost of the ways to query chDB in-process, on Q1 (classroom) and SELECT 1."""
    from engine.embedded import open_embedded_client, open_engine_connection

    client = open_embedded_client(chdb_path)
    raw = open_engine_connection(chdb_path)
    cursor = raw.cursor()
    sql = MART_SQL["classroom"]

    def literal(p: dict[str, Any]) -> str:
        return bind_client_side(sql, p)

    def cursor_rows(p: dict[str, Any]) -> list[Any]:
        cursor.execute(literal(p))
        return list(cursor.fetchall())

    ways: dict[str, Callable[[dict[str, Any]], object]] = {
        "clickhouse_connect.query(params).result_rows": lambda p: client.query(sql, parameters=p).result_rows,
        "chdb conn.query(params, JSONCompact)+json": lambda p: json.loads(
            raw.query(sql, "JSONCompact", params=p).bytes()
        ),
        "chdb conn.query(literal, TabSeparated) bytes": lambda p: raw.query(
            literal(p), "TabSeparated"
        ).bytes(),
        "chdb conn.query(literal, ArrowTable)": lambda p: raw.query(literal(p), "ArrowTable").to_pylist(),
        "chdb cursor.execute(literal).fetchall()": cursor_rows,
        "clickhouse_connect SELECT 1": lambda p: client.query("SELECT 1").result_rows,
        "chdb conn SELECT 1": lambda p: raw.query("SELECT 1", "TabSeparated").bytes(),
        "chdb conn dictGet(params, JSONCompact)+json": lambda p: json.loads(
            raw.query(PROJECT_SQL["classroom"], "JSONCompact", params=p).bytes()
        ),
        "chdb conn dictGet(literal, JSONCompact)+json": lambda p: json.loads(
            raw.query(bind_client_side(PROJECT_SQL["classroom"], p), "JSONCompact").bytes()
        ),
        "chdb conn SELECT 1 with parallel formatting": lambda p: raw.query(
            "SELECT 1 SETTINGS output_format_parallel_formatting = 1", "TabSeparated"
        ).bytes(),
    }
    out = {}
    for label, way in ways.items():
        for p in keys[:5]:
            way(p)
        ts = []
        for p in keys:
            started = time.perf_counter()
            way(p)
            ts.append(time.perf_counter() - started)
        out[label] = latency(ts)
    cursor.close()
    return out
