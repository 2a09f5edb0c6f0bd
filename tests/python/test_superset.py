"""Superset reads the marts through `scores serve`: the real Superset 6.1, in its own venv.

A small warehouse is built by subprocess (`scores generate` + `dbt build`) in its own chDB
directory, served by `scores serve`; Superset's metadata is made and the dashboard bundle
(bi/superset/dashboards) imported by the documented commands (`scripts/superset.sh init` and
`scripts/superset.sh import`), then `superset run` answers REST calls whose numbers are checked
against the same queries on the marts (clickhouse-connect through the endpoint).

Needs .venv-superset (scripts/superset_env.sh): skipped without it, unless
SCORES_REQUIRE_SUPERSET is set (CI), where its absence fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import clickhouse_connect
import pytest
import requests
import yaml
from clickhouse_connect.driver.client import Client

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VENV = Path(os.environ.get("SCORES_SUPERSET_VENV") or ROOT / ".venv-superset")
ROWS = 20_000
# whole classes of 18 to 32 students: a minimum of 25 hides some groups (and bands) in every chart
MIN_GROUP_SIZE = 25
BI_USER, BI_PASSWORD = "bi", "bi-pass"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-test-pass"

if os.environ.get("SCORES_SKIP_SUPERSET") == "1":
    pytest.skip("SCORES_SKIP_SUPERSET=1: the gate without Superset", allow_module_level=True)
if not (VENV / "bin" / "superset").exists():
    if os.environ.get("SCORES_REQUIRE_SUPERSET"):
        raise RuntimeError(
            f"SCORES_REQUIRE_SUPERSET is set but {VENV} has no Superset: run scripts/superset_env.sh"
        )
    pytest.skip(
        f"Superset is not installed ({VENV} missing): run scripts/superset_env.sh, "
        "or set SCORES_REQUIRE_SUPERSET=1 to make this an error",
        allow_module_level=True,
    )


def _load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scores_superset", ROOT / "bi" / "superset" / "scores_superset.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tools = _load_tools()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(command: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> None:
    with log.open("w") as out:
        run = subprocess.run(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT
        )
    if run.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({run.returncode}):\n{log.read_text()[-4000:]}")


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"{url}: the server exited ({process.returncode}):\n{log.read_text()[-4000:]}"
            )
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout}s:\n{log.read_text()[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Stack:
    endpoint_port: int
    superset_url: str
    api: object  # scores_superset.Superset
    mart: Client
    logs: Path
    env: dict[str, str]
    in_process_copy: Path  # a copy of the warehouse that only Superset opens

    @property
    def database_uri(self) -> str:
        return f"clickhousedb://{BI_USER}:{BI_PASSWORD}@127.0.0.1:{self.endpoint_port}/scores"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("superset")
    logs = base / "logs"
    logs.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SCORES_DATABASE", "SCORES_RAW_DATABASE")
    }
    env.update(
        SCORES_TARGET="dev",
        SCORES_CHDB_PATH=str(base / "chdb"),
        DBT_PROFILES_DIR=str(ROOT / "profiles"),
        SCORES_SERVE_USERS=f"{BI_USER}:{BI_PASSWORD}:readonly",
        SCORES_MIN_GROUP_SIZE=str(MIN_GROUP_SIZE),
        SCORES_SUPERSET_VENV=str(VENV),
        SCORES_SUPERSET_HOME=str(base / "home"),
        SCORES_SUPERSET_ADMIN_USER=ADMIN_USER,
        SCORES_SUPERSET_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("SCORES_SUPERSET_DB_PASSWORD", None)
    started: list[subprocess.Popen[bytes]] = []
    try:
        # Superset's metadata (db upgrade, admin, roles) while the warehouse builds: the slow parts
        init_log = logs / "init.log"
        init = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "superset.sh"), "init"],
            env=env,
            cwd=ROOT,
            stdout=init_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(init)
        _run([str(BIN / "scores"), "generate", "--rows", str(ROWS), "--quiet"], env, logs / "generate.log")
        _run(
            [
                str(BIN / "dbt"),
                "build",
                "--quiet",
                "--project-dir",
                str(ROOT),
                "--target-path",
                str(base / "target"),
                "--log-path",
                str(logs / "dbt"),
            ],
            env,
            logs / "dbt.log",
        )
        # copied while no engine has the directory open (dbt has exited, the endpoint not started)
        in_process_copy = base / "chdb-in-process"
        shutil.copytree(base / "chdb", in_process_copy, symlinks=True)  # Atomic tables are symlinks
        endpoint_port = _free_port()
        endpoint_log = logs / "endpoint.log"
        endpoint = subprocess.Popen(
            [str(BIN / "scores"), "serve", "--port", str(endpoint_port)],
            env=env,
            cwd=ROOT,
            stdout=endpoint_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(endpoint)
        _wait_for(f"http://127.0.0.1:{endpoint_port}/ping", endpoint, endpoint_log)
        if init.wait(timeout=300) != 0:
            raise AssertionError(f"scripts/superset.sh init failed:\n{init_log.read_text()[-4000:]}")

        # the documented import: bundle zipped with the password, Superset's own importer
        _run(
            [
                "bash",
                str(ROOT / "scripts" / "superset.sh"),
                "import",
                "--password",
                BI_PASSWORD,
                "--uri",
                f"clickhousedb://{BI_USER}@127.0.0.1:{endpoint_port}/scores",
            ],
            env,
            logs / "import.log",
        )

        superset_port = _free_port()
        superset_log = logs / "superset.log"
        superset = subprocess.Popen(
            [
                str(VENV / "bin" / "superset"),
                "run",
                "-h",
                "127.0.0.1",
                "-p",
                str(superset_port),
                "--with-threads",
            ],
            env={**env, "SUPERSET_CONFIG_PATH": str(ROOT / "bi" / "superset" / "superset_config.py")},
            cwd=base,
            stdout=superset_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(superset)
        url = f"http://127.0.0.1:{superset_port}"
        _wait_for(f"{url}/health", superset, superset_log)
        mart = clickhouse_connect.get_client(
            host="127.0.0.1", port=endpoint_port, username=BI_USER, password=BI_PASSWORD, database="scores"
        )
        yield Stack(
            endpoint_port,
            url,
            tools.Superset(url, ADMIN_USER, ADMIN_PASSWORD),
            mart,
            logs,
            env,
            in_process_copy,
        )
        mart.close()
    finally:
        for process in reversed(started):
            if process.poll() is None:
                _stop(process)


def _dataset(api, database_id: int, table: str) -> int:
    return int(
        api.post("/api/v1/dataset/", json={"database": database_id, "schema": "scores", "table_name": table})[
            "id"
        ]
    )


def test_chart_data_through_a_database_registered_by_api_matches_the_mart(stack):
    api = stack.api
    database = api.post(
        "/api/v1/database/",
        json={"database_name": "scores over the endpoint (test)", "sqlalchemy_uri": stack.database_uri},
    )
    # a table the bundle does not use: Superset's SQLite metadata keeps table names unique
    dataset = _dataset(api, database["id"], "agg_district_scores")
    rows = api.chart_data(
        {
            "datasource": {"id": dataset, "type": "table"},
            "queries": [
                {
                    "columns": ["district_name", "test_id"],
                    "metrics": [
                        {"expressionType": "SQL", "sqlExpression": "SUM(student_count)", "label": "students"},
                        {
                            "expressionType": "SQL",
                            "sqlExpression": "SUM(avg_score * student_count) / SUM(student_count)",
                            "label": "avg_score",
                        },
                    ],
                    "filters": [{"col": "school_year", "op": "==", "val": 2025}],
                    "orderby": [["district_name", True], ["test_id", True]],
                    "row_limit": 10000,
                }
            ],
            "result_format": "json",
            "result_type": "full",
        }
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
    got = [(r["district_name"], r["test_id"], r["students"], r["avg_score"]) for r in rows]
    assert [row[:3] for row in got] == [row[:3] for row in expected]
    assert [row[3] for row in got] == pytest.approx([row[3] for row in expected], rel=1e-12)


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
    rows = api.chart_data(
        {
            "datasource": {"id": dataset, "type": "table"},
            "queries": [
                {
                    "columns": ["school_name", "grade"],
                    "metrics": [
                        {"expressionType": "SQL", "sqlExpression": "count()", "label": "scores"},
                        {
                            "expressionType": "SQL",
                            "sqlExpression": "avg(overall_score)",
                            "label": "avg_score",
                        },
                    ],
                    "orderby": [["school_name", True], ["grade", True]],
                    "row_limit": 10000,
                }
            ],
            "result_format": "json",
            "result_type": "full",
        }
    )
    expected = stack.mart.query(
        """
        SELECT school_name, grade, count(), avg(overall_score) FROM scores.fct_student_scores
        GROUP BY school_name, grade ORDER BY school_name, grade
        """
    ).result_rows
    assert len(expected) >= 5
    got = [(r["school_name"], r["grade"], r["scores"], r["avg_score"]) for r in rows]
    assert [row[:3] for row in got] == [row[:3] for row in expected]
    assert [row[3] for row in got] == pytest.approx([row[3] for row in expected], rel=1e-12)


def _edit_yaml(path: Path, edit) -> None:
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _school_chart_dataset_database(api) -> tuple[dict, dict, str]:
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


def _metric(dataset: dict, name: str) -> dict:
    (metric,) = [metric for metric in dataset["metrics"] if metric["metric_name"] == name]
    return metric


def test_importing_again_updates_charts_datasets_and_database_in_place(stack, tmp_path):
    """An edited bundle imported with the documented command changes the chart, the dataset and
    the database connection in place (Superset's dashboard importer alone would keep the old
    chart and dataset); the repository's bundle imported through the REST API puts them back."""
    api = stack.api
    before_chart, before_dataset, before_uri = _school_chart_dataset_database(api)
    edited = tmp_path / "student_scores"
    shutil.copytree(tools.DEFAULT_BUNDLE, edited)

    def edit_chart(config: dict) -> None:
        config["description"] = "edited description"
        config["params"]["x_axis_title"] = "Grade (edited)"

    def edit_dataset(config: dict) -> None:
        _metric(config, "students")["verbose_name"] = "Students (edited)"

    _edit_yaml(edited / "charts" / "School_by_grade.yaml", edit_chart)
    _edit_yaml(
        edited / "datasets" / "Student_scores_ClickHouse" / "rpt_school_grade_scores.yaml", edit_dataset
    )
    _run(
        [
            "bash",
            str(ROOT / "scripts" / "superset.sh"),
            "import",
            "--bundle",
            str(edited),
            "--password",
            BI_PASSWORD,
            "--uri",
            f"clickhousedb://{BI_USER}@localhost:{stack.endpoint_port}/scores",
        ],
        stack.env,
        stack.logs / "import-edited.log",
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
    _run(
        [
            "bash",
            str(ROOT / "scripts" / "superset.sh"),
            "roster",
            "--roster",
            str(roster),
            "--passwords",
            str(passwords),
        ],
        {**stack.env, "SUPERSET_PORT": port},
        stack.logs / "roster.log",
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
