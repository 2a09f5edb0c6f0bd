"""Where the project loses to PostgreSQL/DuckDB, measured: candidate serving layouts, by hand.

    python benchmarks/compare.py --rows 10000000 --work-dir /tmp/cmp-10m --keep
    python benchmarks/compare_probe.py --work-dir /tmp/cmp-10m

Opens the chDB directory a kept compare.py run built and, in a scratch database `probe` (the
project's tables are not changed), builds candidate layouts with plain DDL and times the same
keys compare.py sampled on each: the per-query floor of every engine, per-column cost, the
uncompressed cache, serving dictionaries (dictGet), Join tables (joinGet), EmbeddedRocksDB,
smaller index granularity, a projection / ORDER BY for school lookups, a materialised
student-in-context table, and a fact table (or projection) ordered by state for the raw
district comparison. PostgreSQL (the kept cluster) and DuckDB give their own floors.
Writes benchmarks/results/compare-probe-<rows>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compare import (
    MART_SQL,
    PG_BIN,
    PROJECT_SQL,
    RESULTS,
    Postgres,
    free_port,
    machine,
    percentile,
    sample_keys,
)

ENGINE_OPTIONS = {"background_pool_size": "16", "uncompressed_cache_size": str(2**30)}
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


def literal(sql: str, params: dict[str, Any]) -> str:
    """A parameterised project query with the values inlined (for variants without binding)."""
    out = sql.replace("{y:UInt16}", str(int(params["y"]))).replace("{k:String}", f"'{params['k']}'")
    return out.replace("{t:String}", f"'{params.get('t', '')}'")


class Probe:
    def __init__(self, conn: Any, keys: dict[str, list[dict[str, Any]]], warmup: int) -> None:
        self.conn = conn
        self.keys = keys
        self.warmup = warmup
        self.results: dict[str, dict[str, Any]] = {}

    def execute(self, sql: str) -> float:
        started = time.perf_counter()
        self.conn.query(sql, "TabSeparated")
        return round(time.perf_counter() - started, 2)

    def scalar(self, sql: str) -> Any:
        return json.loads(self.conn.query(sql, "JSONCompact").bytes())["data"][0][0]

    def time(
        self, group: str, label: str, keys: str, run: Callable[[dict[str, Any]], object], **info: Any
    ) -> None:
        params_list = self.keys[keys]
        for params in params_list[: self.warmup]:
            run(params)
        times = []
        for params in params_list[self.warmup :]:
            started = time.perf_counter()
            run(params)
            times.append(time.perf_counter() - started)
        result = {
            "p50_ms": round(percentile(times, 0.5) * 1000, 3),
            "p95_ms": round(percentile(times, 0.95) * 1000, 3),
        } | info
        self.results.setdefault(group, {})[label] = result
        print(f"{group:28s} {label:70s} p50 {result['p50_ms']:8.3f} p95 {result['p95_ms']:8.3f}", flush=True)

    def sql(self, group: str, label: str, keys: str, template: str, **info: Any) -> None:
        """Time a SQL template with the keys inlined, rows fetched as JSONCompact."""

        def run(params: dict[str, Any]) -> object:
            return json.loads(self.conn.query(literal(template, params), "JSONCompact").bytes())["data"]

        self.time(group, label, keys, run, **info)


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
    if not (pg.data / "PG_VERSION").exists():
        return
    pg.port = free_port()
    subprocess.run(
        [str(PG_BIN / "pg_ctl"), "-D", str(pg.data), "-o", f"-p {pg.port}",
         "-l", str(pg.directory / "probe.log"), "-w", "start"],
        check=True, user=pg.user, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        pconn = pg.connect()
        probe.time(
            "floor", "PostgreSQL SELECT 1 (TCP)", "classroom", lambda p: pconn.execute("SELECT 1").fetchall()
        )
        pconn.close()
    finally:
        pg.stop()


def classroom(probe: Probe) -> None:
    group, conn = "Q1 classroom", probe.conn
    base = MART_SQL["classroom"]
    probe.time(
        group,
        "mart, bound parameters (compare.py)",
        "classroom",
        lambda p: json.loads(conn.query(base, "JSONCompact", params=p).bytes())["data"],
    )
    probe.sql(group, "mart, literal SQL", "classroom", base)
    probe.sql(
        group, "mart, one column (avg_score)", "classroom", base.replace(CLASSROOM_COLUMNS, "avg_score")
    )
    probe.sql(
        group, "mart, use_uncompressed_cache=1", "classroom", base + " SETTINGS use_uncompressed_cache=1"
    )
    probe.sql(group, "mart, max_threads=1", "classroom", base + " SETTINGS max_threads=1")
    probe.sql(
        group, "mart, optimize_read_in_order=0", "classroom", base + " SETTINGS optimize_read_in_order=0"
    )
    unique = probe.scalar(
        "SELECT count() = uniqExact(school_year, teacher_id, test_id) FROM scores.agg_classroom_scores"
    )
    # a serving dictionary with every attribute of the report
    fields = ", ".join(f"{c} {t}" for c, t in CLASSROOM_ATTRIBUTES)
    build = probe.execute("DROP DICTIONARY IF EXISTS probe.dict_classroom_report") + probe.execute(
        "CREATE DICTIONARY probe.dict_classroom_report "
        f"(school_year UInt16, teacher_id String, test_id String, {fields}) "
        "PRIMARY KEY school_year, teacher_id, test_id "
        f"SOURCE(CLICKHOUSE(QUERY '{CLASSROOM_SOURCE}')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)"
    )
    build += probe.execute("SYSTEM RELOAD DICTIONARY probe.dict_classroom_report")
    size = probe.scalar(
        "SELECT bytes_allocated FROM system.dictionaries WHERE name = 'dict_classroom_report'"
    )
    names = ", ".join(f"'{c}'" for c, _ in CLASSROOM_ATTRIBUTES)
    probe.sql(
        group,
        "dictionary (COMPLEX_KEY_HASHED), dictGet of 9 attributes",
        "classroom",
        f"SELECT dictGet('probe.dict_classroom_report', ({names}), "
        "({y:UInt16}::UInt16, {k:String}, {t:String}))",
        build_seconds=build,
        bytes=size,
        key_unique=bool(unique),
    )
    # the same, the report row serialised in one String attribute
    row = ", ".join(c for c, _ in CLASSROOM_ATTRIBUTES)
    build = probe.execute("DROP DICTIONARY IF EXISTS probe.dict_classroom_json") + probe.execute(
        "CREATE DICTIONARY probe.dict_classroom_json (school_year UInt16, teacher_id String, test_id String, "
        "report String) PRIMARY KEY school_year, teacher_id, test_id "
        "SOURCE(CLICKHOUSE(QUERY 'SELECT school_year, teacher_id, toString(test_id) AS test_id, "
        f"formatRowNoNewline(''JSONCompactEachRow'', {row}) AS report FROM scores.agg_classroom_scores')) "
        "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)"
    )
    build += probe.execute("SYSTEM RELOAD DICTIONARY probe.dict_classroom_json")
    size = probe.scalar("SELECT bytes_allocated FROM system.dictionaries WHERE name = 'dict_classroom_json'")
    probe.sql(
        group,
        "dictionary, one JSON String attribute (dictGet 1 attribute)",
        "classroom",
        "SELECT dictGet('probe.dict_classroom_json', 'report', ({y:UInt16}::UInt16, {k:String}, {t:String}))",
        build_seconds=build,
        bytes=size,
    )
    build = probe.execute("DROP TABLE IF EXISTS probe.join_classroom") + probe.execute(
        "CREATE TABLE probe.join_classroom ENGINE = Join(ANY, LEFT, school_year, teacher_id, test_id) AS "
        f"SELECT school_year, teacher_id, test_id, formatRowNoNewline('JSONCompactEachRow', {row}) AS report "
        "FROM (" + CLASSROOM_SOURCE + ")"
    )
    probe.sql(
        group,
        "Join table, joinGet of one JSON attribute",
        "classroom",
        "SELECT joinGet('probe.join_classroom', 'report', {y:UInt16}::UInt16, {k:String}, {t:String})",
        build_seconds=build,
    )
    build = probe.execute("DROP TABLE IF EXISTS probe.kv_classroom") + probe.execute(
        "CREATE TABLE probe.kv_classroom (key String, report String) ENGINE = EmbeddedRocksDB PRIMARY KEY key"
    )
    build += probe.execute(
        "INSERT INTO probe.kv_classroom SELECT concat(toString(school_year), '|', teacher_id, '|', test_id), "
        f"formatRowNoNewline('JSONCompactEachRow', {row}) FROM ({CLASSROOM_SOURCE})"
    )
    probe.sql(
        group,
        "EmbeddedRocksDB key/value table, one JSON value",
        "classroom",
        "SELECT report FROM probe.kv_classroom "
        "WHERE key = concat('{y:UInt16}', '|', {k:String}, '|', {t:String})",
        build_seconds=build,
    )
    for granularity in (256, 8192):
        table = f"probe.classroom_g{granularity}"
        build = probe.execute(f"DROP TABLE IF EXISTS {table}") + probe.execute(
            f"CREATE TABLE {table} ENGINE = MergeTree ORDER BY (school_year, teacher_id, test_id) "
            f"SETTINGS index_granularity = {granularity} AS "
            f"SELECT school_year, {CLASSROOM_COLUMNS} FROM scores.agg_classroom_scores"
        )
        build += probe.execute(f"OPTIMIZE TABLE {table} FINAL")
        probe.sql(
            group,
            f"MergeTree copy, one part, no partitions, index_granularity {granularity}",
            "classroom",
            base.replace("scores.agg_classroom_scores", table),
            build_seconds=build,
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
    probe.time(
        group,
        "Python dict in the serving process (snapshot of the mart)",
        "classroom",
        lambda p: cache.get((p["y"], p["k"], p["t"])),
        build_seconds=build_s,
        rss_mib=round((_rss_kib() - rss_before) / 1024),
    )


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def school(probe: Probe) -> None:
    group = "Q2 school by grade"
    base = MART_SQL["school_by_grade"]
    probe.sql(group, "mart (ORDER BY school_year, district_id, school_id, ...)", "school_by_grade", base)
    district = probe.conn.query(
        "SELECT school_id, any(district_id) FROM scores.agg_school_grade_scores GROUP BY school_id",
        "JSONCompact",
    )
    districts = dict(json.loads(district.bytes())["data"])

    def with_district(params: dict[str, Any]) -> object:
        sql = literal(base, params).replace(
            "AND school_id", f"AND district_id = '{districts[params['k']]}' AND school_id"
        )
        return json.loads(probe.conn.query(sql, "JSONCompact").bytes())["data"]

    probe.time(group, "mart, the BI query also filters district_id", "school_by_grade", with_district)
    build = probe.execute("DROP TABLE IF EXISTS probe.school_grade_by_school") + probe.execute(
        "CREATE TABLE probe.school_grade_by_school ENGINE = MergeTree PARTITION BY school_year "
        "ORDER BY (school_year, school_id, test_id, subject, grade) "
        "AS SELECT * FROM scores.agg_school_grade_scores"
    )
    probe.sql(
        group,
        "copy ORDER BY (school_year, school_id, test_id, subject, grade)",
        "school_by_grade",
        base.replace("scores.agg_school_grade_scores", "probe.school_grade_by_school"),
        build_seconds=build,
    )
    build = probe.execute("DROP TABLE IF EXISTS probe.school_grade_proj") + probe.execute(
        "CREATE TABLE probe.school_grade_proj AS scores.agg_school_grade_scores"
    )
    build += probe.execute(
        "ALTER TABLE probe.school_grade_proj ADD PROJECTION by_school "
        "(SELECT * ORDER BY school_year, school_id, test_id)"
    )
    build += probe.execute("INSERT INTO probe.school_grade_proj SELECT * FROM scores.agg_school_grade_scores")
    probe.sql(
        group,
        "copy with PROJECTION by_school (SELECT * ORDER BY school_year, school_id, test_id)",
        "school_by_grade",
        base.replace("scores.agg_school_grade_scores", "probe.school_grade_proj"),
        build_seconds=build,
    )


def districts(probe: Probe) -> None:
    group = "Q3 districts of a state"
    base = MART_SQL["district_comparison"]
    probe.sql(group, "mart agg_district_scores", "district_comparison", base)
    probe.sql(
        group,
        "mart, use_uncompressed_cache=1",
        "district_comparison",
        base + " SETTINGS use_uncompressed_cache=1",
    )


def student_context(probe: Probe) -> None:
    group = "Q4 student in context"
    base = MART_SQL["student_in_context"]
    probe.sql(group, "view srv_student_context (3 dictGet per row)", "student_in_context", base)
    probe.sql(
        group,
        "the view's table without the dictGets (floor)",
        "student_in_context",
        "SELECT student_id, overall_score, performance_level, dimension_scores "
        "FROM scores.srv_student_scores_by_teacher "
        "WHERE school_year = {y:UInt16} AND teacher_id = {k:String} AND test_id = {t:String}",
    )
    for granularity in (8192, 1024):
        table = f"probe.student_context_g{granularity}"
        build = probe.execute(f"DROP TABLE IF EXISTS {table}") + probe.execute(
            f"CREATE TABLE {table} ENGINE = MergeTree PARTITION BY school_year "
            "ORDER BY (school_year, teacher_id, test_id, student_id) "
            f"SETTINGS index_granularity = {granularity} "
            "AS SELECT school_year, teacher_id, test_id, student_id, overall_score, performance_level, "
            "dimension_scores, classroom_avg_score, school_grade_avg_score, district_grade_avg_score "
            "FROM scores.srv_student_context"
        )
        probe.sql(
            group,
            f"materialised table (averages as columns), index_granularity {granularity}",
            "student_in_context",
            base.replace("scores.srv_student_context", table),
            build_seconds=build,
        )


def raw_facts(probe: Probe) -> None:
    group = "Q3 from raw facts"
    base = PROJECT_SQL["district_comparison_raw"]
    probe.sql(group, "fct_student_scores (ORDER BY has no state_id)", "district_comparison_raw", base)
    probe.sql(
        group,
        "fct_student_scores, optimize_aggregation_in_order=1",
        "district_comparison_raw",
        base + " SETTINGS optimize_aggregation_in_order = 1",
    )
    rows_state = probe.scalar("SELECT count() FROM scores.fct_student_scores")
    build = probe.execute("DROP TABLE IF EXISTS probe.fct_by_state") + probe.execute(
        "CREATE TABLE probe.fct_by_state ENGINE = MergeTree PARTITION BY toYYYYMM(test_date) "
        "ORDER BY (school_year, state_id, district_id, school_id, teacher_id, test_id, student_id) "
        "AS SELECT * FROM scores.fct_student_scores"
    )
    build += probe.execute("OPTIMIZE TABLE probe.fct_by_state FINAL")
    probe.sql(
        group,
        "fact copy ORDER BY (school_year, state_id, district_id, school_id, ...)",
        "district_comparison_raw",
        base.replace("scores.fct_student_scores", "probe.fct_by_state"),
        build_seconds=build,
        rows=rows_state,
    )
    build = probe.execute("DROP TABLE IF EXISTS probe.fct_proj") + probe.execute(
        "CREATE TABLE probe.fct_proj AS scores.fct_student_scores"
    )
    build += probe.execute(
        "ALTER TABLE probe.fct_proj MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild'"
    )
    build += probe.execute(
        "ALTER TABLE probe.fct_proj ADD PROJECTION by_state (SELECT school_year, state_id, district_id, "
        "test_id, subject, overall_score ORDER BY school_year, state_id, district_id, test_id, subject)"
    )
    build += probe.execute("INSERT INTO probe.fct_proj SELECT * FROM scores.fct_student_scores")
    build += probe.execute("OPTIMIZE TABLE probe.fct_proj FINAL")
    size = probe.scalar(
        "SELECT sum(bytes_on_disk) FROM system.projection_parts WHERE active AND table = 'fct_proj'"
    )
    probe.sql(
        group,
        "fact copy + PROJECTION by_state (6 columns ORDER BY school_year, state_id, ...)",
        "district_comparison_raw",
        base.replace("scores.fct_student_scores", "probe.fct_proj"),
        build_seconds=build,
        projection_bytes=size,
    )


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Probe: candidate serving layouts, {report['rows']:,} rows",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM. Same keys as compare.py; "
        "chDB opened in-process (raw connection) with uncompressed_cache_size = 1 GiB; rows fetched as "
        "JSONCompact and parsed. Build = seconds to create the candidate from the built marts.",
        "",
        "| query | variant | p50 ms | p95 ms | build s | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for group, variants in report["results"].items():
        for label, r in variants.items():
            notes = ", ".join(
                f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k} {v}"
                for k, v in r.items()
                if k not in ("p50_ms", "p95_ms", "build_seconds")
            )
            build = f"{r['build_seconds']:.1f}" if "build_seconds" in r else ""
            lines.append(f"| {group} | {label} | {r['p50_ms']:.3f} | {r['p95_ms']:.3f} | {build} | {notes} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work-dir", type=Path, required=True, help="a work directory kept by compare.py --keep"
    )
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    import chdb
    from clickhouse_connect.driver._chdbclient import build_connection_string

    from engine.embedded import holder_of

    path = os.path.realpath(args.work_dir / "chdb")
    if holder_of(path):
        raise SystemExit(f"{path} is held by {holder_of(path)}")
    conn = chdb.connect(build_connection_string(path, ENGINE_OPTIONS))
    conn.query("CREATE DATABASE IF NOT EXISTS probe", "TabSeparated")
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.work_dir / "base.parquet").metadata.num_rows  # compare.py's --rows
    probe = Probe(conn, sample_keys(conn, args.keys, args.warmup), args.warmup)
    floors(probe, args.work_dir)
    classroom(probe)
    school(probe)
    districts(probe)
    student_context(probe)
    raw_facts(probe)
    report = {"rows": rows, "machine": machine(), "results": probe.results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"compare-probe-{rows}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"compare-probe-{rows}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
