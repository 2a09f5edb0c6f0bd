"""Small text reports read from the marts."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Table


def _exists(client: Client, database: str, table: str) -> bool:
    return bool(
        client.command(
            "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
            parameters={"d": database, "t": table},
        )
    )


def classroom_report(client: Client, database: str, school_year: int | None, limit: int) -> str:
    """The classrooms of the latest test of a school year, best average first."""
    if not _exists(client, database, "agg_classroom_scores"):
        raise LookupError(f"{database}.agg_classroom_scores does not exist yet: run `dbt build` first")
    if school_year is None:
        school_year = int(
            client.query(f"SELECT max(school_year) FROM `{database}`.agg_classroom_scores").result_rows[0][0]
        )
    test_id = client.command(
        f"""
        SELECT argMax(test_id, (max_date, students)) FROM (
            SELECT test_id, max(test_date) AS max_date, count() AS students
            FROM `{database}`.fct_student_scores WHERE school_year = {{y:UInt16}} GROUP BY test_id)
        """,
        parameters={"y": school_year},
    )
    result = client.query(
        f"""
        SELECT teacher_name, teacher_id, school_name, subject, student_count,
               round(avg_score, 1), median_score, min_score, max_score,
               excellent_count, good_count, fair_count, needs_improvement_count
        FROM `{database}`.agg_classroom_scores
        WHERE school_year = {{y:UInt16}} AND test_id = {{t:String}}
        ORDER BY avg_score DESC, teacher_id
        LIMIT {{n:UInt32}}
        """,
        parameters={"y": school_year, "t": test_id, "n": limit},
    )
    total = client.command(
        f"SELECT count() FROM `{database}`.agg_classroom_scores WHERE school_year = {{y:UInt16}} "
        "AND test_id = {t:String}",
        parameters={"y": school_year, "t": test_id},
    )
    table = Table(title=f"Classroom report: {test_id}, school year {school_year} (top {limit} of {total})")
    for name in (
        "Teacher",
        "Id",
        "School",
        "Subject",
        "Students",
        "Avg",
        "Median",
        "Min",
        "Max",
        ">=90",
        "80-89",
        "70-79",
        "<70",
    ):
        table.add_column(name, justify="left" if name in ("Teacher", "Id", "School", "Subject") else "right")
    for row in result.result_rows:
        table.add_row(*(f"{v:g}" if isinstance(v, float) else str(v) for v in row))
    console = Console(width=140, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()
