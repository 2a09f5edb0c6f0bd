"""Small text reports, read from the report views (small groups suppressed, macros/suppression.sql)."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Table

from loaders.reference import load_reference

# the classroom report as published: agg_classroom_scores with small groups suppressed
VIEW = "rpt_classroom_scores"


def _exists(client: Client, database: str, table: str) -> bool:
    return bool(
        client.command(
            "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
            parameters={"d": database, "t": table},
        )
    )


def classroom_report(client: Client, database: str, school_year: int | None, limit: int) -> str:
    """The classrooms of the latest test of a school year, best average first."""
    if not _exists(client, database, VIEW):
        raise LookupError(f"{database}.{VIEW} does not exist yet: run `dbt build` first")
    if school_year is None:
        school_year = int(client.query(f"SELECT max(school_year) FROM `{database}`.{VIEW}").result_rows[0][0])
    test_id = client.command(
        f"""
        SELECT argMax(test_id, (max_date, students)) FROM (
            SELECT test_id, max(test_date) AS max_date, count() AS students
            FROM `{database}`.fct_student_scores WHERE school_year = {{y:UInt16}} GROUP BY test_id)
        """,
        parameters={"y": school_year},
    )
    bands = load_reference().bands
    band_columns = ", ".join(f"{band.band}_count" for band in bands)
    result = client.query(
        f"""
        SELECT teacher_name, teacher_id, school_name, subject, suppression_label, student_count,
               round(avg_score, 1), median_score, min_score, max_score, {band_columns}
        FROM `{database}`.{VIEW}
        WHERE school_year = {{y:UInt16}} AND test_id = {{t:String}}
        ORDER BY is_suppressed, avg_score DESC, teacher_id
        LIMIT {{n:UInt32}}
        """,
        parameters={"y": school_year, "t": test_id, "n": limit},
    )
    # the minimum the view was built with (the environment may say otherwise until the next build)
    total, suppressed, minimum = client.query(
        f"SELECT count(), countIf(is_suppressed = 1), any(min_group_size) FROM `{database}`.{VIEW} "
        "WHERE school_year = {y:UInt16} AND test_id = {t:String}",
        parameters={"y": school_year, "t": test_id},
    ).result_rows[0]
    table = Table(title=f"Classroom report: {test_id}, school year {school_year} (top {limit} of {total})")
    # the band columns and their labels come from seeds/score_bands.csv, as the marts' do
    text_columns = ("Teacher", "Id", "School", "Subject")
    for name in (*text_columns, "Students", "Avg", "Median", "Min", "Max", *(b.label for b in bands)):
        table.add_column(name, justify="left" if name in text_columns else "right")
    hidden_bands = 0
    for name, teacher, school, subject, label, *metrics in result.result_rows:
        if label:
            cells = [label] + ["-"] * (len(metrics) - 1)
        else:
            hidden_bands += any(v is None for v in metrics[-len(bands) :])
            cells = ["*" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in metrics]
        table.add_row(name, teacher, school, subject, *cells)
    notes = [f"Groups of fewer than {minimum} students are not published (n<{minimum})."] if minimum else []
    if suppressed:
        notes.append(
            f"{suppressed} of {total} classrooms are not published: too small, or hidden so that a "
            "small one cannot be recovered by subtraction."
        )
    if hidden_bands:
        notes.append(
            "*: a score band hidden so that no band of fewer students can be told (macros/suppression.sql)."
        )
    console = Console(width=140, record=True, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
        for note in notes:
            console.print(note)
    return capture.get()
