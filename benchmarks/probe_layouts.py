"""The candidate layouts of benchmarks.compare_probe, one function per query class: built with
plain DDL in the scratch database `probe` (the project's tables are not changed) and timed on
the comparison's keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks.peers.postgres import Postgres
from benchmarks.probe import Candidates, Probe, literal
from benchmarks.queries import MART_SQL, PROJECT_SQL

CLASSROOM_COLUMNS = (
    "teacher_id, teacher_name, test_id, subject, student_count, avg_score, median_score, "
    "excellent_count, good_count, fair_count, needs_improvement_count"
)
CLASSROOM_ATTRIBUTES = (
    ("teacher_name", "String"),
    ("subject", "String"),
    ("student_count", "UInt64"),
    ("avg_score", "Float64"),
    ("median_score", "Float64"),
    ("excellent_count", "UInt64"),
    ("good_count", "UInt64"),
    ("fair_count", "UInt64"),
    ("needs_improvement_count", "UInt64"),
)
CLASSROOM_SOURCE = (
    "SELECT school_year, teacher_id, toString(test_id) AS test_id, "
    + ", ".join(f"to{t}({c}) AS {c}" for c, t in CLASSROOM_ATTRIBUTES)
    + " FROM scores.agg_classroom_scores"
)


def floors(probe: Probe, work: Path) -> None:
    conn = probe.conn
    probe.time(
        "floor", "chDB SELECT 1", "classroom", lambda p: conn.query("SELECT 1", "TabSeparated").bytes()
    )
    import duckdb

    duck = duckdb.connect(str(work / "duck.db"), read_only=True)
    probe.time("floor", "DuckDB SELECT 1", "classroom", lambda p: duck.execute("SELECT 1").fetchall())
    duck.close()
    pg = Postgres(work / "pg")
    if not pg.exists:
        return
    pg.restart("probe.log")
    try:
        pconn = pg.connect()
        probe.time(
            "floor", "PostgreSQL SELECT 1 (TCP)", "classroom", lambda p: pconn.execute("SELECT 1").fetchall()
        )
        pconn.close()
    finally:
        pg.stop()


def classroom(probe: Probe) -> None:
    conn = probe.conn
    q1 = Candidates(probe, "Q1 classroom", "classroom", MART_SQL["classroom"], "scores.agg_classroom_scores")
    q1.time(
        "mart, bound parameters (compare.py)",
        lambda p: json.loads(conn.query(q1.base, "JSONCompact", params=p).bytes())["data"],
    )
    q1.sql("mart, literal SQL", q1.base)
    q1.sql("mart, one column (avg_score)", q1.base.replace(CLASSROOM_COLUMNS, "avg_score"))
    q1.with_settings("mart, use_uncompressed_cache=1", "use_uncompressed_cache=1")
    q1.with_settings("mart, max_threads=1", "max_threads=1")
    q1.with_settings("mart, optimize_read_in_order=0", "optimize_read_in_order=0")
    unique = probe.scalar(
        "SELECT count() = uniqExact(school_year, teacher_id, test_id) FROM scores.agg_classroom_scores"
    )
    # a serving dictionary with every attribute of the report
    fields = ", ".join(f"{c} {t}" for c, t in CLASSROOM_ATTRIBUTES)
    build = probe.build(
        "DROP DICTIONARY IF EXISTS probe.dict_classroom_report",
        "CREATE DICTIONARY probe.dict_classroom_report "
        f"(school_year UInt16, teacher_id String, test_id String, {fields}) "
        "PRIMARY KEY school_year, teacher_id, test_id "
        f"SOURCE(CLICKHOUSE(QUERY '{CLASSROOM_SOURCE}')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)",
        "SYSTEM RELOAD DICTIONARY probe.dict_classroom_report",
    )
    names = ", ".join(f"'{c}'" for c, _ in CLASSROOM_ATTRIBUTES)
    q1.sql(
        "dictionary (COMPLEX_KEY_HASHED), dictGet of 9 attributes",
        f"SELECT dictGet('probe.dict_classroom_report', ({names}), "
        "({y:UInt16}::UInt16, {k:String}, {t:String}))",
        build_seconds=build,
        bytes=_dictionary_bytes(probe, "dict_classroom_report"),
        key_unique=bool(unique),
    )
    # the same, the report row serialised in one String attribute
    row = ", ".join(c for c, _ in CLASSROOM_ATTRIBUTES)
    build = probe.build(
        "DROP DICTIONARY IF EXISTS probe.dict_classroom_json",
        "CREATE DICTIONARY probe.dict_classroom_json (school_year UInt16, teacher_id String, test_id String, "
        "report String) PRIMARY KEY school_year, teacher_id, test_id "
        "SOURCE(CLICKHOUSE(QUERY 'SELECT school_year, teacher_id, toString(test_id) AS test_id, "
        f"formatRowNoNewline(''JSONCompactEachRow'', {row}) AS report FROM scores.agg_classroom_scores')) "
        "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)",
        "SYSTEM RELOAD DICTIONARY probe.dict_classroom_json",
    )
    q1.sql(
        "dictionary, one JSON String attribute (dictGet 1 attribute)",
        "SELECT dictGet('probe.dict_classroom_json', 'report', ({y:UInt16}::UInt16, {k:String}, {t:String}))",
        build_seconds=build,
        bytes=_dictionary_bytes(probe, "dict_classroom_json"),
    )
    build = probe.build(
        "DROP TABLE IF EXISTS probe.join_classroom",
        "CREATE TABLE probe.join_classroom ENGINE = Join(ANY, LEFT, school_year, teacher_id, test_id) AS "
        f"SELECT school_year, teacher_id, test_id, formatRowNoNewline('JSONCompactEachRow', {row}) AS report "
        "FROM (" + CLASSROOM_SOURCE + ")",
    )
    q1.sql(
        "Join table, joinGet of one JSON attribute",
        "SELECT joinGet('probe.join_classroom', 'report', {y:UInt16}::UInt16, {k:String}, {t:String})",
        build_seconds=build,
    )
    build = probe.build(
        "DROP TABLE IF EXISTS probe.kv_classroom",
        "CREATE TABLE probe.kv_classroom (key String, report String) "
        "ENGINE = EmbeddedRocksDB PRIMARY KEY key",
        "INSERT INTO probe.kv_classroom SELECT concat(toString(school_year), '|', teacher_id, '|', test_id), "
        f"formatRowNoNewline('JSONCompactEachRow', {row}) FROM ({CLASSROOM_SOURCE})",
    )
    q1.sql(
        "EmbeddedRocksDB key/value table, one JSON value",
        "SELECT report FROM probe.kv_classroom "
        "WHERE key = concat('{y:UInt16}', '|', {k:String}, '|', {t:String})",
        build_seconds=build,
    )
    q1.by_granularity(
        "MergeTree copy, one part, no partitions",
        "classroom",
        (256, 8192),
        "ORDER BY (school_year, teacher_id, test_id)",
        f"SELECT school_year, {CLASSROOM_COLUMNS} FROM scores.agg_classroom_scores",
        optimize=True,
    )
    # the endpoint's own cache: the mart in a Python dict, refreshed after each build
    started = time.perf_counter()
    rss_before = _rss_kib()
    table = probe.conn.query(
        f"SELECT school_year, {CLASSROOM_COLUMNS} FROM scores.agg_classroom_scores", "ArrowTable"
    )
    cache: dict[tuple[int, str, str], tuple[Any, ...]] = {}
    for r in table.to_pylist():
        cache[(r["school_year"], r["teacher_id"], r["test_id"])] = tuple(r.values())
    del table
    build_s = round(time.perf_counter() - started, 2)
    q1.time(
        "Python dict in the serving process (snapshot of the mart)",
        lambda p: cache.get((p["y"], p["k"], p["t"])),
        build_seconds=build_s,
        rss_mib=round((_rss_kib() - rss_before) / 1024),
    )


def _dictionary_bytes(probe: Probe, name: str) -> Any:
    return probe.scalar(f"SELECT bytes_allocated FROM system.dictionaries WHERE name = '{name}'")


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def school(probe: Probe) -> None:
    mart = "scores.agg_school_grade_scores"
    q2 = Candidates(probe, "Q2 school by grade", "school_by_grade", MART_SQL["school_by_grade"], mart)
    q2.sql("mart (ORDER BY school_year, district_id, school_id, ...)", q2.base)
    district = probe.conn.query(
        "SELECT school_id, any(district_id) FROM scores.agg_school_grade_scores GROUP BY school_id",
        "JSONCompact",
    )
    districts = dict(json.loads(district.bytes())["data"])

    def with_district(params: dict[str, Any]) -> object:
        sql = literal(q2.base, params).replace(
            "AND school_id", f"AND district_id = '{districts[params['k']]}' AND school_id"
        )
        return json.loads(probe.conn.query(sql, "JSONCompact").bytes())["data"]

    q2.time("mart, the BI query also filters district_id", with_district)
    q2.on_copy(
        "copy ORDER BY (school_year, school_id, test_id, subject, grade)",
        "probe.school_grade_by_school",
        "CREATE TABLE probe.school_grade_by_school ENGINE = MergeTree PARTITION BY school_year "
        "ORDER BY (school_year, school_id, test_id, subject, grade) "
        f"AS SELECT * FROM {mart}",
    )
    q2.on_copy(
        "copy with PROJECTION by_school (SELECT * ORDER BY school_year, school_id, test_id)",
        "probe.school_grade_proj",
        f"CREATE TABLE probe.school_grade_proj AS {mart}",
        "ALTER TABLE probe.school_grade_proj ADD PROJECTION by_school "
        "(SELECT * ORDER BY school_year, school_id, test_id)",
        f"INSERT INTO probe.school_grade_proj SELECT * FROM {mart}",
    )


def districts(probe: Probe) -> None:
    base = MART_SQL["district_comparison"]
    q3 = Candidates(
        probe, "Q3 districts of a state", "district_comparison", base, "scores.agg_district_scores"
    )
    q3.sql("mart agg_district_scores", base)
    q3.with_settings("mart, use_uncompressed_cache=1", "use_uncompressed_cache=1")


def student_context(probe: Probe) -> None:
    base = MART_SQL["student_in_context"]
    q4 = Candidates(probe, "Q4 student in context", "student_in_context", base, "scores.srv_student_context")
    q4.sql("view srv_student_context (3 dictGet per row)", base)
    q4.sql(
        "the view's table without the dictGets (floor)",
        "SELECT student_id, overall_score, performance_level, dimension_scores "
        "FROM scores.srv_student_scores_by_teacher "
        "WHERE school_year = {y:UInt16} AND teacher_id = {k:String} AND test_id = {t:String}",
    )
    q4.by_granularity(
        "materialised table (averages as columns)",
        "student_context",
        (8192, 1024),
        "PARTITION BY school_year ORDER BY (school_year, teacher_id, test_id, student_id)",
        "SELECT school_year, teacher_id, test_id, student_id, overall_score, performance_level, "
        "dimension_scores, classroom_avg_score, school_grade_avg_score, district_grade_avg_score "
        "FROM scores.srv_student_context",
    )


def raw_facts(probe: Probe) -> None:
    fact = "scores.fct_student_scores"
    base = PROJECT_SQL["district_comparison_raw"]
    raw = Candidates(probe, "Q3 from raw facts", "district_comparison_raw", base, fact)
    raw.sql("fct_student_scores (ORDER BY has no state_id)", base)
    raw.with_settings(
        "fct_student_scores, optimize_aggregation_in_order=1", "optimize_aggregation_in_order = 1"
    )
    raw.on_copy(
        "fact copy ORDER BY (school_year, state_id, district_id, school_id, ...)",
        "probe.fct_by_state",
        "CREATE TABLE probe.fct_by_state ENGINE = MergeTree PARTITION BY toYYYYMM(test_date) "
        "ORDER BY (school_year, state_id, district_id, school_id, teacher_id, test_id, student_id) "
        f"AS SELECT * FROM {fact}",
        "OPTIMIZE TABLE probe.fct_by_state FINAL",
        rows=probe.scalar(f"SELECT count() FROM {fact}"),
    )
    build = probe.build(
        "DROP TABLE IF EXISTS probe.fct_proj",
        f"CREATE TABLE probe.fct_proj AS {fact}",
        "ALTER TABLE probe.fct_proj MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild'",
        "ALTER TABLE probe.fct_proj ADD PROJECTION by_state (SELECT school_year, state_id, district_id, "
        "test_id, subject, overall_score ORDER BY school_year, state_id, district_id, test_id, subject)",
        f"INSERT INTO probe.fct_proj SELECT * FROM {fact}",
        "OPTIMIZE TABLE probe.fct_proj FINAL",
    )
    raw.sql(
        "fact copy + PROJECTION by_state (6 columns ORDER BY school_year, state_id, ...)",
        base.replace(fact, "probe.fct_proj"),
        build_seconds=build,
        projection_bytes=probe.scalar(
            "SELECT sum(bytes_on_disk) FROM system.projection_parts WHERE active AND table = 'fct_proj'"
        ),
    )
