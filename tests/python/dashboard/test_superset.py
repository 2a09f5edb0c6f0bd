"""Superset reads the marts through `scores serve`: REST calls to the real Superset (the `stack`
fixture, conftest.py) whose numbers are checked against the same queries on the marts
(clickhouse-connect through the endpoint).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .stack import BI_PASSWORD, BI_USER, MIN_GROUP_SIZE, superset_sh, tools


def _dataset(api: Any, database_id: int, table: str) -> int:
    return int(
        api.post("/api/v1/dataset/", json={"database": database_id, "schema": "scores", "table_name": table})[
            "id"
        ]
    )


def _grouped_chart(
    api: Any, dataset: int, columns: list[str], metrics: dict[str, str], **query: Any
) -> list[dict[str, Any]]:
    """The chart data of `dataset` grouped by `columns` (ordered by them) with SQL `metrics`
    ({label: expression}); `query` adds to the query (its filters)."""
    rows: list[dict[str, Any]] = api.chart_data(
        {
            "datasource": {"id": dataset, "type": "table"},
            "queries": [
                {
                    "columns": columns,
                    "metrics": [
                        {"expressionType": "SQL", "sqlExpression": sql, "label": label}
                        for label, sql in metrics.items()
                    ],
                    **query,
                    "orderby": [[column, True] for column in columns],
                    "row_limit": 10000,
                }
            ],
            "result_format": "json",
            "result_type": "full",
        }
    )
    return rows


def _assert_same_rows(rows: list[dict[str, Any]], keys: list[str], expected: list[Any]) -> None:
    """Chart rows (their `keys`) equal the mart's rows: exactly, but for the last, an average."""
    got = [tuple(row[key] for key in keys) for row in rows]
    assert [row[:-1] for row in got] == [row[:-1] for row in expected]
    assert [row[-1] for row in got] == pytest.approx([row[-1] for row in expected], rel=1e-12)


def test_chart_data_through_a_database_registered_by_api_matches_the_mart(stack):
    api = stack.api
    database = api.post(
        "/api/v1/database/",
        json={"database_name": "scores over the endpoint (test)", "sqlalchemy_uri": stack.database_uri},
    )
    # a table the bundle does not use: Superset's SQLite metadata keeps table names unique
    dataset = _dataset(api, database["id"], "agg_district_scores")
    rows = _grouped_chart(
        api,
        dataset,
        ["district_name", "test_id"],
        {
            "students": "SUM(student_count)",
            "avg_score": "SUM(avg_score * student_count) / SUM(student_count)",
        },
        filters=[{"col": "school_year", "op": "==", "val": 2025}],
    )
    expected = stack.mart.query(
        """
        SELECT district_name, test_id,
               sum(student_count), sum(avg_score * student_count) / sum(student_count)
        FROM scores.agg_district_scores WHERE school_year = 2025
        GROUP BY district_name, test_id ORDER BY district_name, test_id
        """
    ).result_rows
    assert len(expected) >= 12
    _assert_same_rows(rows, ["district_name", "test_id", "students", "avg_score"], expected)


def test_imported_dashboard_charts_run_against_the_endpoint(stack):
    api = stack.api
    (dashboard,) = api.find("dashboard", "slug", "student-scores")
    charts = api.get(f"/api/v1/dashboard/{dashboard['id']}/charts")["result"]
    names = {chart["slice_name"] for chart in charts}
    assert names == {
        "Classroom score bands",
        "Classrooms",
        "School by grade",
        "District comparison by grade",
        "Students in context",
    }
    (database,) = api.find("database", "database_name", "Student scores (ClickHouse)")
    detail = api.get(f"/api/v1/database/{database['id']}/connection")["result"]
    assert (
        detail["sqlalchemy_uri"]
        == f"clickhousedb://{BI_USER}:XXXXXXXXXX@127.0.0.1:{stack.endpoint_port}/scores"
    )
    # every chart's saved query runs with the password given at import (filters unset: all rows)
    for chart in charts:
        result = api.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]
        assert result["status"] == "success", (chart["slice_name"], result.get("error"))
        assert result["rowcount"] > 0, chart["slice_name"]

    # the bands chart adds up to the students of the bands the classroom report view publishes
    (bands,) = [chart for chart in charts if chart["slice_name"] == "Classroom score bands"]
    rows = api.get(f"/api/v1/chart/{bands['id']}/data/")["result"][0]["data"]
    total = sum(
        row[metric] or 0
        for row in rows
        for metric in ("excellent_students", "good_students", "fair_students", "needs_improvement_students")
    )
    published = stack.mart.query(
        "SELECT sum(ifNull(excellent_count, 0) + ifNull(good_count, 0) + ifNull(fair_count, 0) "
        "+ ifNull(needs_improvement_count, 0)) FROM scores.rpt_classroom_scores"
    ).result_rows[0][0]
    everyone = stack.mart.query("SELECT sum(student_count) FROM scores.agg_classroom_scores").result_rows
    everyone = everyone[0][0]
    assert total == published
    assert published < everyone  # with a minimum of 25, classes of 18 to 32 show no band at all


def test_dashboard_shows_suppressed_groups_as_such(stack):
    """The Classrooms chart lists every classroom; those the report view hides show their label
    (n<25) and no metric, the others their numbers, none of them under the minimum."""
    api = stack.api
    (chart,) = api.find("chart", "slice_name", "Classrooms")
    rows = api.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]["data"]
    hidden = [row for row in rows if row["suppression_label"]]
    shown = [row for row in rows if not row["suppression_label"]]
    assert hidden
    assert shown
    assert {row["suppression_label"] for row in hidden} == {f"n<{MIN_GROUP_SIZE}"}
    assert all(row["student_count"] is None and row["avg_score"] is None for row in hidden)
    assert all(row["student_count"] >= MIN_GROUP_SIZE for row in shown)
    # the chart's own query (its filters) over the view: the same hidden classrooms
    small = stack.mart.query(
        f"SELECT count() FROM scores.rpt_classroom_scores WHERE suppression_label = 'n<{MIN_GROUP_SIZE}'"
    ).result_rows[0][0]
    assert 0 < len(hidden) <= small


def test_bundle_metric_average_score_is_the_exact_average(stack):
    """The datasets' `avg_score` metric (students-weighted) gives the exact average of the
    published groups: the facts' average per district over the district grades it shows."""
    api = stack.api
    (dataset,) = [
        item
        for item in api.find("dataset", "table_name", "rpt_district_grade_scores")
        if item["database"]["database_name"] == "Student scores (ClickHouse)"
    ]
    rows = api.chart_data(
        {
            "datasource": {"id": dataset["id"], "type": "table"},
            "queries": [
                {"columns": ["district_name"], "metrics": ["avg_score", "students"], "row_limit": 1000}
            ],
            "result_format": "json",
            "result_type": "full",
        }
    )
    published = """
        SELECT school_year, state_id, district_id, test_id, subject, grade
        FROM scores.rpt_district_grade_scores WHERE is_suppressed = 0
    """
    truth = {
        name: (average, count)
        for name, average, count in stack.mart.query(
            "SELECT district_name, avg(overall_score), count() FROM scores.fct_student_scores "
            f"WHERE (school_year, state_id, district_id, test_id, subject, grade) IN ({published}) "
            "GROUP BY district_name"
        ).result_rows
    }
    shown = [row for row in rows if row["students"]]
    assert {row["district_name"] for row in shown} == set(truth)
    for row in shown:
        assert row["avg_score"] == pytest.approx(truth[row["district_name"]][0], rel=1e-12)
        assert row["students"] == truth[row["district_name"]][1]


def test_in_process_chdb_database_gives_the_endpoint_numbers(stack):
    """The one-shot path: Superset opens a warehouse directory itself (clickhouse-connect's chdb
    interface, no endpoint). Its chart data equals the endpoint's answer on the same data."""
    api = stack.api
    database = api.post(
        "/api/v1/database/",
        json={
            "database_name": "scores in-process (test)",
            "sqlalchemy_uri": f"clickhousedb:///scores?interface=chdb&path={stack.in_process_copy}",
        },
    )
    dataset = _dataset(api, database["id"], "fct_student_scores")
    rows = _grouped_chart(
        api, dataset, ["school_name", "grade"], {"scores": "count()", "avg_score": "avg(overall_score)"}
    )
    expected = stack.mart.query(
        """
        SELECT school_name, grade, count(), avg(overall_score) FROM scores.fct_student_scores
        GROUP BY school_name, grade ORDER BY school_name, grade
        """
    ).result_rows
    assert len(expected) >= 5
    _assert_same_rows(rows, ["school_name", "grade", "scores", "avg_score"], expected)


def _edit_yaml(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _school_chart_dataset_database(api: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    (chart,) = api.find("chart", "slice_name", "School by grade")
    chart = api.get(f"/api/v1/chart/{chart['id']}")["result"]
    (dataset,) = [
        item
        for item in api.find("dataset", "table_name", "rpt_school_grade_scores")
        if item["database"]["database_name"] == "Student scores (ClickHouse)"
    ]
    dataset = api.get(f"/api/v1/dataset/{dataset['id']}")["result"]
    (database,) = api.find("database", "database_name", "Student scores (ClickHouse)")
    uri = api.get(f"/api/v1/database/{database['id']}/connection")["result"]["sqlalchemy_uri"]
    return chart, dataset, uri


def _metric(dataset: dict[str, Any], name: str) -> dict[str, Any]:
    metric: dict[str, Any]
    (metric,) = [item for item in dataset["metrics"] if item["metric_name"] == name]
    return metric


def test_importing_again_updates_charts_datasets_and_database_in_place(stack, tmp_path):
    """An edited bundle imported with the documented command changes the chart, the dataset and
    the database connection in place (Superset's dashboard importer alone would keep the old
    chart and dataset); the repository's bundle imported through the REST API puts them back."""
    api = stack.api
    before_chart, before_dataset, before_uri = _school_chart_dataset_database(api)
    edited = tmp_path / "student_scores"
    shutil.copytree(tools.DEFAULT_BUNDLE, edited)

    def edit_chart(config: dict[str, Any]) -> None:
        config["description"] = "edited description"
        config["params"]["x_axis_title"] = "Grade (edited)"

    def edit_dataset(config: dict[str, Any]) -> None:
        _metric(config, "students")["verbose_name"] = "Students (edited)"

    _edit_yaml(edited / "charts" / "School_by_grade.yaml", edit_chart)
    _edit_yaml(
        edited / "datasets" / "Student_scores_ClickHouse" / "rpt_school_grade_scores.yaml", edit_dataset
    )
    superset_sh(
        "import",
        "--bundle",
        str(edited),
        "--password",
        BI_PASSWORD,
        "--uri",
        f"clickhousedb://{BI_USER}@localhost:{stack.endpoint_port}/scores",
        env=stack.env,
        log=stack.logs / "import-edited.log",
    )
    chart, dataset, uri = _school_chart_dataset_database(api)
    assert chart["id"] == before_chart["id"]
    assert chart["description"] == "edited description"
    assert '"x_axis_title": "Grade (edited)"' in chart["params"]
    assert dataset["id"] == before_dataset["id"]
    assert _metric(dataset, "students")["verbose_name"] == "Students (edited)"
    assert uri == f"clickhousedb://{BI_USER}:XXXXXXXXXX@localhost:{stack.endpoint_port}/scores"
    # the password given at import still reaches the endpoint
    assert api.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]["rowcount"] > 0

    tools.import_bundle(
        api,
        password=BI_PASSWORD,
        uri=f"clickhousedb://{BI_USER}@127.0.0.1:{stack.endpoint_port}/scores",
    )
    chart, dataset, uri = _school_chart_dataset_database(api)
    assert (chart["id"], chart["description"], chart["params"]) == (
        before_chart["id"],
        before_chart["description"],
        before_chart["params"],
    )
    restored, original = _metric(dataset, "students"), _metric(before_dataset, "students")
    assert (restored["id"], restored["verbose_name"], restored["expression"]) == (
        original["id"],
        original["verbose_name"],
        original["expression"],
    )
    assert uri == before_uri
    assert len(api.find("dashboard", "slug", "student-scores")) == 1
    assert len(api.find("database", "database_name", "Student scores (ClickHouse)")) == 1
    assert len(api.find("chart", "slice_name", "School by grade")) == 1
    assert api.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]["rowcount"] > 0


def files_of(files: list[str], prefix: str) -> list[str]:
    return [name for name in files if name.startswith(prefix)]


def test_bundle_in_the_repository_is_clean():
    """The exported YAML as kept: masked password, default endpoint, no ids, every file parses."""
    bundle = tools.DEFAULT_BUNDLE
    files = sorted(path.relative_to(bundle).as_posix() for path in bundle.rglob("*.yaml"))
    assert "metadata.yaml" in files
    uuids = set()
    for name in files:
        config = yaml.safe_load((bundle / name).read_text())
        if name.startswith(("databases/", "datasets/", "charts/", "dashboards/")):
            assert config["uuid"] not in uuids
            uuids.add(config["uuid"])
        if name.startswith("databases/"):
            assert config["sqlalchemy_uri"] == "clickhousedb://bi:XXXXXXXXXX@127.0.0.1:8123/scores"
        if name.startswith("charts/"):
            assert config["params"]["datasource"] == "0__table"
        if name.startswith("dashboards/"):
            # chart ids 1..n in layout order; filter scopes consistent with the layout
            position = config["position"]
            assert tools._chart_order(position) == list(range(1, len(files_of(files, "charts/")) + 1))
            for item in config["metadata"]["native_filter_configuration"]:
                assert item["chartsInScope"] == tools._charts_in_scope(position, item["scope"])
    assert "timestamp" not in yaml.safe_load((bundle / "metadata.yaml").read_text())


def test_roster_users_see_only_their_rows_through_superset_rls(stack, tmp_path):
    """The roster synced into Superset (scripts/superset.sh roster): a teacher's login sees only its
    own classrooms in every chart and dataset, and nothing of a dataset its role does not read;
    the state role sees every row."""
    from loaders.roles import REFERENCE_TABLES, SCOPED_OBJECTS
    from loaders.roster import Entry, as_json

    teacher, other = [
        row[0]
        for row in stack.mart.query(
            "SELECT teacher_id FROM scores.rpt_classroom_scores "
            "GROUP BY teacher_id ORDER BY teacher_id LIMIT 2"
        ).result_rows
    ]
    entries = [Entry("ms.teacher", "teacher", (teacher,)), Entry("mr.state", "state")]
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps(as_json(entries, [*SCOPED_OBJECTS, *REFERENCE_TABLES])))
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"ms.teacher": "teacher-pw-1", "mr.state": "state-pw-1"}))
    port = stack.superset_url.rsplit(":", 1)[1]
    superset_sh(
        "roster",
        "--roster",
        str(roster),
        "--passwords",
        str(passwords),
        env={**stack.env, "SUPERSET_PORT": port},
        log=stack.logs / "roster.log",
    )
    admin = stack.api
    (database,) = admin.find("database", "database_name", "Student scores (ClickHouse)")

    def dataset(table: str) -> int:
        (found,) = [
            d for d in admin.find("dataset", "table_name", table) if d["database"]["id"] == database["id"]
        ]
        return int(found["id"])

    def teachers(api, table: str) -> list[str]:
        rows = api.chart_data(
            {
                "datasource": {"id": dataset(table), "type": "table"},
                "queries": [{"columns": ["teacher_id"], "metrics": [], "row_limit": 100000}],
                "result_format": "json",
                "result_type": "full",
            }
        )
        return sorted({row["teacher_id"] for row in rows})

    as_teacher = tools.Superset(stack.superset_url, "ms.teacher", "teacher-pw-1")
    as_state = tools.Superset(stack.superset_url, "mr.state", "state-pw-1")
    everyone = teachers(admin, "rpt_classroom_scores")
    assert other in everyone
    assert teachers(as_teacher, "rpt_classroom_scores") == [teacher]
    assert teachers(as_teacher, "srv_student_context") == [teacher]
    assert teachers(as_state, "rpt_classroom_scores") == everyone
    # the district comparison is not the teacher's to read: its RLS clause is 1 = 0
    (chart,) = admin.find("chart", "slice_name", "District comparison by grade")
    assert as_teacher.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]["rowcount"] == 0
    assert as_state.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]["rowcount"] > 0
    # the teacher's Classrooms chart shows only its classrooms: the admin's rows of its name
    (classrooms,) = admin.find("chart", "slice_name", "Classrooms")
    name = stack.mart.query(
        "SELECT any(teacher_name) FROM scores.rpt_classroom_scores WHERE teacher_id = {t:String}",
        parameters={"t": teacher},
    ).result_rows[0][0]
    mine = as_teacher.get(f"/api/v1/chart/{classrooms['id']}/data/")["result"][0]["data"]
    every = admin.get(f"/api/v1/chart/{classrooms['id']}/data/")["result"][0]["data"]
    assert mine
    assert {row["teacher_name"] for row in mine} == {name}
    assert len(mine) <= len([row for row in every if row["teacher_name"] == name])
    assert len(every) > len(mine)
