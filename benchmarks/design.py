"""The design's schema as the peers (PostgreSQL 15, DuckDB) build it: the input columns, the fact
table's sort order, the three aggregates and the design's queries on them."""

from __future__ import annotations

INPUT_COLUMNS = (
    "student_id, teacher_id, teacher_name, school_id, school_name, district_id, district_name, "
    "state_id, subject, grade, test_id, school_year, test_date, overall_score, "
    "overall_performance_level, dimension_scores"
)
DESIGN_ORDER = "school_year, district_id, school_id, teacher_id, test_id, student_id"


def design_aggregates(engine: str) -> dict[str, str]:
    """The design's three aggregates in DuckDB's or PostgreSQL's SQL (DuckDB's sorted by key)."""
    duckdb = engine == "duckdb"

    def quantile(q: float) -> str:
        if duckdb:
            return f"quantile_cont(overall_score, {q})"
        return f"percentile_cont({q}) within group (order by overall_score)"

    real = "" if duckdb else "::float8"

    def order(columns: str) -> str:
        return f"\n        order by {columns}" if duckdb else ""

    return {
        "classroom_aggregates": f"""
        select school_year, teacher_id, school_id, district_id, test_id, subject,
            max(teacher_name) as teacher_name,
            count(*) as student_count,
            avg(overall_score){real} as avg_score,
            avg(overall_performance_level){real} as avg_performance_level,
            {quantile(0.5)} as median_score,
            min(overall_score) as min_score,
            max(overall_score) as max_score,
            count(*) filter (where overall_score >= 90) as excellent_count,
            count(*) filter (where overall_score >= 80 and overall_score < 90) as good_count,
            count(*) filter (where overall_score >= 70 and overall_score < 80) as fair_count,
            count(*) filter (where overall_score < 70) as needs_improvement_count
        from student_scores
        group by school_year, teacher_id, school_id, district_id, test_id, subject"""
        + order("school_year, teacher_id, test_id"),
        "school_aggregates": f"""
        select school_year, school_id, district_id, state_id, test_id, subject, grade,
            count(*) as student_count,
            avg(overall_score){real} as avg_score,
            avg(overall_performance_level){real} as avg_performance_level,
            {quantile(0.5)} as median_score,
            stddev_pop(overall_score){real} as score_std_dev
        from student_scores
        group by school_year, school_id, district_id, state_id, test_id, subject, grade"""
        + order("school_year, school_id, test_id"),
        "district_aggregates": f"""
        select school_year, district_id, state_id, test_id, subject, grade,
            count(*) as student_count,
            avg(overall_score){real} as avg_score,
            avg(overall_performance_level){real} as avg_performance_level,
            {quantile(0.5)} as median_score,
            {quantile(0.25)} as q1_score,
            {quantile(0.75)} as q3_score
        from student_scores
        group by school_year, district_id, state_id, test_id, subject, grade"""
        + order("school_year, district_id, test_id"),
    }


# PostgreSQL and DuckDB: the design's queries on the design's aggregates (placeholders: $y, $k, $t).
DESIGN_SQL = {
    "classroom": (
        "SELECT teacher_id, teacher_name, test_id, subject, student_count, avg_score, median_score, "
        "excellent_count, good_count, fair_count, needs_improvement_count FROM classroom_aggregates "
        "WHERE school_year = $y AND teacher_id = $k AND test_id = $t"
    ),
    "school_by_grade": (
        "SELECT grade, subject, student_count, avg_score, median_score, score_std_dev "
        "FROM school_aggregates WHERE school_year = $y AND school_id = $k AND test_id = $t ORDER BY grade"
    ),
    "district_comparison": (
        "SELECT district_id, test_id, subject, sum(student_count) AS total_students, "
        "avg(avg_score) AS district_avg_score, avg(median_score) AS district_median_score "
        "FROM district_aggregates WHERE school_year = $y AND state_id = $k "
        "GROUP BY district_id, test_id, subject ORDER BY district_avg_score DESC"
    ),
    "student_in_context": (
        "SELECT s.student_id, s.overall_score, s.overall_performance_level, s.dimension_scores, "
        "c.avg_score AS classroom_avg, sch.avg_score AS school_avg, d.avg_score AS district_avg "
        "FROM student_scores s "
        "LEFT JOIN classroom_aggregates c ON s.school_year = c.school_year AND s.teacher_id = c.teacher_id "
        "AND s.test_id = c.test_id "
        "LEFT JOIN school_aggregates sch ON s.school_year = sch.school_year AND s.school_id = sch.school_id "
        "AND s.test_id = sch.test_id AND s.grade = sch.grade "
        "LEFT JOIN district_aggregates d ON s.school_year = d.school_year "
        "AND s.district_id = d.district_id AND s.test_id = d.test_id AND s.grade = d.grade "
        "WHERE s.teacher_id = $k AND s.school_year = $y AND s.test_id = $t"
    ),
    "district_comparison_raw": (
        "SELECT district_id, test_id, subject, count(*) AS total_students, "
        "avg(overall_score) AS district_avg_score, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY overall_score) AS district_median_score "
        "FROM student_scores WHERE school_year = $y AND state_id = $k "
        "GROUP BY district_id, test_id, subject ORDER BY district_avg_score DESC"
    ),
}


def design_sql(name: str, style: str) -> tuple[str, list[str]]:
    """The design's SQL with positional placeholders for psycopg (%s) or DuckDB (?)."""
    sql = DESIGN_SQL[name]
    order = sorted(("$y", "$k", "$t"), key=lambda p: sql.find(p) if p in sql else 1 << 30)
    names = [p for p in order if p in sql]
    for p in names:
        sql = sql.replace(p, "%s" if style == "pg" else "?")
    return sql, [p[1] for p in names]
