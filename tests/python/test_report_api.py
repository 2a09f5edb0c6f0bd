"""The report API inside a real `scores serve` process (--api-port), over real sockets.

A warehouse is generated, loaded and built through the endpoint (dbt-clickhouse's http driver),
and every step of a small replay (new scores, corrections) is built through it while the API
answers. Each answer is compared with the report query on the report views, run by the engineer
through the ClickHouse endpoint; roles come from a roster loaded with `scores roster load`.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from pydantic import BaseModel
from schemathesis.core.result import Err, Ok
from served import Served, free_port, serving

from api import schemas
from loaders.config import PROJECT_DIR
from loaders.schema import INPUT_COLUMN_NAMES

BIN = Path(sys.executable).parent
PASSWORD = "pw-api"
ROWS = 25_000
USERS = ("ms.teacher", "mr.principal", "ms.district", "mr.state", "ms.engineer", "not.listed")


@dataclass
class Api:
    served: Served
    port: int
    env: dict[str, str]  # the CLI and dbt through the endpoint, as the writer
    base: Path
    teacher: str
    school: str
    district: str
    state: str
    year: int
    test: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, user: str | None = "ms.engineer", password: str = PASSWORD) -> requests.Response:
        auth = (user, password) if user else None
        return requests.get(f"{self.url}{path}", auth=auth, timeout=30)

    def sql(self, query: str, **parameters: Any) -> list[tuple[Any, ...]]:
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=self.served.port, username="loader", password=PASSWORD
        )
        try:
            return [tuple(row) for row in client.query(query, parameters=parameters).result_rows]
        finally:
            client.close()

    def run(self, *args: str) -> None:
        done = subprocess.run(
            list(args), env=self.env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1200
        )
        assert done.returncode in (0, 3), f"{args}: {done.stdout[-3000:]}{done.stderr[-3000:]}"

    def build(self) -> None:
        self.run(
            str(BIN / "dbt"),
            "build",
            "--quiet",
            "--project-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(self.base / "target"),
            "--log-path",
            str(self.base / "logs"),
        )

    def current_build(self) -> str:
        return str(self.get("/v1/build").json()["build"])

    def wait_for_build(self, build: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (
            self.sql(
                "SELECT argMax(invocation_id, published_at) FROM scores.dbt_published_builds "
                "WHERE succeeded = 1 AND changed = 1"
            )[0][0]
            == build
        ):
            assert time.monotonic() < deadline, "the build did not publish"
            time.sleep(0.1)
        published = self.sql(
            "SELECT argMax(invocation_id, published_at) FROM scores.dbt_published_builds "
            "WHERE succeeded = 1 AND changed = 1"
        )[0][0]
        while self.current_build() != published:
            assert time.monotonic() < deadline, "the API did not switch to the new build"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("report_api")
    users = {name: {"password": PASSWORD, "role": "roster"} for name in USERS}
    users["ms.engineer"] = {"password": PASSWORD, "role": "readonly"}
    users["loader"] = {"password": PASSWORD, "role": "readwrite"}
    port = free_port()
    with serving(base, "--api-port", str(port), users=users) as served:
        env = {
            **{k: v for k, v in served.env.items() if k not in ("SCORES_CHDB_PATH",)},
            "SCORES_TARGET": "server",
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(served.port),
            "CLICKHOUSE_USER": "loader",
            "CLICKHOUSE_PASSWORD": PASSWORD,
            "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
        }
        probe = Api(served, port, env, base, "", "", "", "", 0, "")
        probe.run(str(BIN / "scores"), "generate", "--rows", str(ROWS), "--quiet")
        probe.build()
        teacher, school, district, state, year, test = probe.sql(
            "SELECT teacher_id, school_id, district_id, state_id, school_year, test_id "
            "FROM scores.rpt_classroom_scores ORDER BY school_year DESC, teacher_id, test_id LIMIT 1"
        )[0]
        built = Api(served, port, env, base, teacher, school, district, state, year, test)
        roster = base / "roster.csv"
        roster.write_text(
            "user,role,scope\n"
            f"ms.teacher,teacher,{teacher}\n"
            f"mr.principal,principal,{school}\n"
            f"ms.district,district,{district}\n"
            "mr.state,state,\n"
        )
        built.run(str(BIN / "scores"), "roster", "load", str(roster))
        deadline = time.monotonic() + 30
        while not built.current_build():
            assert time.monotonic() < deadline, "the API never saw the first build"
            time.sleep(0.1)
        yield built


# -- answers equal the report queries -------------------------------------------------------------

CLASSROOM_COLUMNS = (
    "teacher_id, teacher_name, toString(test_id), toString(subject), is_suppressed, suppression_label, "
    "student_count, avg_score, median_score, excellent_count, good_count, fair_count, needs_improvement_count"
)


def _expected_classroom(api: Api, year: int, teacher: str, test: str) -> list[dict[str, Any]]:
    names = [c.strip().removeprefix("toString(").removesuffix(")") for c in CLASSROOM_COLUMNS.split(", ")]
    rows = api.sql(
        f"SELECT {CLASSROOM_COLUMNS} FROM scores.rpt_classroom_scores WHERE school_year = {{y:UInt16}} "
        "AND teacher_id = {t:String} AND test_id = {s:String} ORDER BY subject",
        y=year,
        t=teacher,
        s=test,
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


def _expected_grades(api: Api, year: int, school: str, test: str) -> list[dict[str, Any]]:
    rows = api.sql(
        "SELECT grade, toString(subject), is_suppressed, suppression_label, student_count, avg_score, "
        "median_score, score_stddev FROM scores.rpt_school_grade_scores WHERE school_year = {y:UInt16} "
        "AND school_id = {k:String} AND test_id = {s:String} ORDER BY grade",
        y=year,
        k=school,
        s=test,
    )
    names = (
        "grade",
        "subject",
        "is_suppressed",
        "suppression_label",
        "student_count",
        "avg_score",
        "median_score",
        "score_stddev",
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


def _expected_districts(api: Api, year: int, state: str) -> list[tuple[Any, ...]]:
    return sorted(
        api.sql(
            "SELECT district_id, district_name, toString(test_id), toString(subject), is_suppressed, "
            "suppression_label, student_count, avg_score, median_score FROM scores.rpt_district_scores "
            "WHERE school_year = {y:UInt16} AND state_id = {k:String}",
            y=year,
            k=state,
        )
    )


def _expected_students(api: Api, year: int, teacher: str, test: str) -> list[tuple[Any, ...]]:
    return sorted(
        api.sql(
            "SELECT student_id, overall_score, performance_level, dimension_scores, classroom_avg_score, "
            "school_grade_avg_score, district_grade_avg_score FROM scores.srv_student_context "
            "WHERE school_year = {y:UInt16} AND teacher_id = {t:String} AND test_id = {s:String}",
            y=year,
            t=teacher,
            s=test,
        )
    )


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return bool(a == b)


def _same(got: list[Any], want: list[Any]) -> bool:
    return len(got) == len(want) and all(
        len(g) == len(w) and all(_close(x, y) for x, y in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


def _assert_answers_equal_the_report_queries(api: Api, keys: list[tuple[int, str, str, str]]) -> None:
    for year, teacher, school, test in keys:
        got = api.get(f"/v1/classrooms/{year}/{teacher}/{test}").json()["rows"]
        want = _expected_classroom(api, year, teacher, test)
        assert _same([list(r.values()) for r in got], [list(r.values()) for r in want]), (got, want)
        grades = api.get(f"/v1/schools/{year}/{school}/{test}/grades").json()["rows"]
        assert _same(
            [list(r.values()) for r in grades],
            [list(r.values()) for r in _expected_grades(api, year, school, test)],
        )
        students = api.get(f"/v1/classrooms/{year}/{teacher}/{test}/students").json()["rows"]
        assert _same(
            sorted(tuple(r.values()) for r in students), _expected_students(api, year, teacher, test)
        )
    year = keys[0][0]
    districts = api.get(f"/v1/states/{year}/{api.state}/districts").json()["rows"]
    assert _same(sorted(tuple(r.values()) for r in districts), _expected_districts(api, year, api.state))


def _sample_keys(api: Api, n: int = 12) -> list[tuple[int, str, str, str]]:
    return [
        (int(r[0]), str(r[1]), str(r[2]), str(r[3]))
        for r in api.sql(
            "SELECT school_year, teacher_id, school_id, test_id FROM scores.rpt_classroom_scores "
            "ORDER BY cityHash64(teacher_id, test_id, school_year) LIMIT {n:UInt32}",
            n=n,
        )
    ]


def _corrections(api: Api, path: Path, count: int, classrooms: list[str] | None = None) -> None:
    """`count` scores re-scored (of each of ``classrooms``, 'year/teacher/test', if given)."""
    where = ""
    if classrooms:
        keys = ", ".join(f"({int(y)}, '{t}', '{s}')" for y, t, s in (c.split("/") for c in classrooms))
        where = f"WHERE (school_year, teacher_id, test_id) IN ({keys}) "
    # the input columns as the loaders read them, the reported level under its fact-table name
    selected = ", ".join(
        "reported_performance_level" if c == "overall_performance_level" else c for c in INPUT_COLUMN_NAMES
    )
    rows = api.sql(
        f"SELECT {selected} FROM scores.fct_student_scores {where}"
        "ORDER BY cityHash64(student_id, test_id) "
        + ("LIMIT {n:UInt32} BY school_year, teacher_id, test_id" if classrooms else "LIMIT {n:UInt32}"),
        n=count,
    )
    rng = random.Random(5)
    score = INPUT_COLUMN_NAMES.index("overall_score")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(INPUT_COLUMN_NAMES)
        for row in rows:
            values = list(row)
            # one point up or down: the reported level stays right but at a band's edge, which
            # the data tests allow (assert_reported_levels_mostly_agree)
            values[score] = min(100, max(0, int(values[score]) + rng.choice((-1, 1))))
            writer.writerow(values)


def test_every_answer_equals_the_report_query_after_each_replay_step(api: Api, tmp_path: Path) -> None:
    keys = _sample_keys(api)
    _assert_answers_equal_the_report_queries(api, keys)

    before = api.current_build()
    api.run(str(BIN / "scores"), "generate", "--rows", str(ROWS + ROWS // 100), "--quiet")
    api.build()
    api.wait_for_build(before)
    _assert_answers_equal_the_report_queries(api, keys)

    before = api.current_build()
    corrections = tmp_path / "corrections.csv"
    _corrections(api, corrections, ROWS // 50)
    api.run(str(BIN / "scores"), "load", str(corrections), "--quiet")
    api.build()
    api.wait_for_build(before)
    _assert_answers_equal_the_report_queries(api, _sample_keys(api))


def test_the_cache_switches_at_a_build_and_never_mixes_two(api: Api, tmp_path: Path) -> None:
    """Readers ask the same keys while a build runs through the endpoint: every answer is the
    report query's answer of the build it is labelled with, before or after, never a mix."""
    keys = _sample_keys(api, 6)
    paths = [f"/v1/classrooms/{y}/{t}/{s}" for y, t, _, s in keys]
    truth: dict[str, dict[str, Any]] = {api.current_build(): {p: api.get(p).json()["rows"] for p in paths}}
    seen: list[tuple[str, str, str, Any]] = []
    stop = threading.Event()

    def reader() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                for path in paths:
                    reply = http.get(f"{api.url}{path}", auth=("ms.engineer", PASSWORD), timeout=30)
                    body = reply.json()
                    seen.append((reply.headers["x-scores-build"], body["build"], path, body["rows"]))

    corrections = tmp_path / "more.csv"
    _corrections(api, corrections, 3, [f"{y}/{t}/{s}" for y, t, _, s in keys])
    api.run(str(BIN / "scores"), "load", str(corrections), "--quiet")
    before = api.current_build()
    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        api.build()
        api.wait_for_build(before)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    after = api.current_build()
    assert after != before
    truth[after] = {p: api.get(p).json()["rows"] for p in paths}
    assert any(truth[before][p] != truth[after][p] for p in paths), "the corrections changed no answer"
    assert {b for b, *_ in seen} == {before, after}
    for header, build, path, rows in seen:
        assert header == build
        assert rows == truth[build][path], f"{path} labelled {build} is not that build's answer"
    state = api.get("/v1/build").json()
    assert state["answers"] >= len(paths)


# -- who may read what ----------------------------------------------------------------------------


def _others(api: Api, column: str, value: str) -> list[tuple[Any, ...]]:
    """A classroom whose `column` is not `value` (school_year, teacher_id, school_id, district_id,
    test_id), or none when every classroom has that value."""
    return api.sql(
        f"SELECT school_year, teacher_id, school_id, district_id, test_id FROM scores.rpt_classroom_scores "
        f"WHERE {column} != {{v:String}} ORDER BY teacher_id LIMIT 1",
        v=value,
    )


# the reports of a classroom row (school_year, teacher_id, school_id, district_id, test_id)
def _classroom(row: tuple[Any, ...]) -> str:
    return f"/v1/classrooms/{row[0]}/{row[1]}/{row[4]}"


def _school_grades(row: tuple[Any, ...]) -> str:
    return f"/v1/schools/{row[0]}/{row[2]}/{row[4]}/grades"


def _district_schools(row: tuple[Any, ...]) -> str:
    return f"/v1/districts/{row[0]}/{row[3]}/schools"


def test_each_role_reads_its_scope_and_nothing_else(api: Api) -> None:
    own = (api.year, api.teacher, api.school, api.district, api.test)
    (other_teacher,) = _others(api, "teacher_id", api.teacher)
    (other_school,) = _others(api, "school_id", api.school)
    other_district = _others(api, "district_id", api.district)
    mine, theirs, other_school_classroom = (
        _classroom(own),
        _classroom(other_teacher),
        _classroom(other_school),
    )
    grades, other_grades = _school_grades(own), _school_grades(other_school)
    districts = f"/v1/states/{api.year}/{api.state}/districts"
    schools = _district_schools(own)
    matrix: dict[str, dict[str, int]] = {
        "ms.teacher": {
            mine: 200,
            mine + "/students": 200,
            theirs: 403,
            theirs + "/students": 403,
            grades: 403,
            districts: 403,
            schools: 403,
            "/v1/me/classrooms": 200,
        },
        "mr.principal": {
            mine: 200,
            other_school_classroom: 403,
            grades: 200,
            other_grades: 403,
            districts: 403,
            schools: 403,
            "/v1/me/classrooms": 200,
        },
        "ms.district": {mine: 200, grades: 200, districts: 403, schools: 200, "/v1/me/classrooms": 200},
        "mr.state": {
            mine: 200,
            theirs: 200,
            grades: 200,
            other_grades: 200,
            districts: 200,
            schools: 200,
            "/v1/me/classrooms": 403,
        },
        "ms.engineer": {mine: 200, theirs: 200, districts: 200, "/v1/me/classrooms": 403},
        "not.listed": {mine: 403, "/v1/build": 403},
    }
    if other_district:
        d = other_district[0]
        matrix["ms.district"][_classroom(d)] = 403
        matrix["ms.district"][_district_schools(d)] = 403
    for user, expected in matrix.items():
        for path, status in expected.items():
            reply = api.get(path, user)
            assert reply.status_code == status, f"{user} {path}: {reply.status_code} {reply.text[:200]}"
            assert reply.headers["content-type"].startswith("application/json")
    assert api.get(mine, None).status_code == 401
    assert api.get(mine, "ms.teacher", "wrong").status_code == 401
    listed = api.get("/v1/me/classrooms", "ms.teacher").json()["rows"]
    assert listed
    assert {r["teacher_id"] for r in listed} == {api.teacher}
    district_listed = api.get("/v1/me/classrooms", "ms.district").json()["rows"]
    assert {r["district_id"] for r in district_listed} == {api.district}


def test_errors_are_clear_json(api: Api) -> None:
    missing = api.get(f"/v1/classrooms/{api.year}/T-NOBODY/{api.test}")
    assert missing.status_code == 404
    assert "T-NOBODY" in missing.json()["detail"]
    for path in (
        f"/v1/classrooms/12/{api.teacher}/{api.test}",
        f"/v1/classrooms/{api.year}/a%20b/x",
        "/v1/states/year/CA/districts",
    ):
        reply = api.get(path)
        assert reply.status_code == 422, path
        assert reply.json()["detail"]
    assert "Traceback" not in missing.text


# -- property tests from the OpenAPI document -----------------------------------------------------


def test_the_answer_schemas_are_the_lookups_rows(api: Api) -> None:
    """The API's row schemas (api/schemas.py) describe the rows the serving lookups hold, field
    for field and in order: a column added to or dropped from a lookup's rows
    (macros/serving.sql, published_columns) fails here until the schema follows."""
    y, t, test = api.year, api.teacher, api.test
    answers: dict[type[BaseModel], str] = {
        schemas.ClassroomRow: f"/v1/classrooms/{y}/{t}/{test}",
        schemas.StudentRow: f"/v1/classrooms/{y}/{t}/{test}/students",
        schemas.SchoolGradeRow: f"/v1/schools/{y}/{api.school}/{test}/grades",
        schemas.DistrictRow: f"/v1/states/{y}/{api.state}/districts",
    }
    for model, path in answers.items():
        reply = api.get(path)
        assert reply.status_code == 200, (path, reply.text)
        rows = reply.json()["rows"]
        assert rows, path
        assert [list(row) for row in rows] == [list(model.model_fields)] * len(rows), path


def test_the_api_keeps_its_openapi_document(api: Api) -> None:
    """Requests generated from the API's own OpenAPI document (schemathesis, valid and invalid
    parameters) get answers the document describes: its status codes and the JSON of its schemas,
    never a server error."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    results = list(schema.get_all_operations())
    assert not [result.err() for result in results if isinstance(result, Err)]
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(base_url=api.url, auth=("ms.engineer", PASSWORD))

        check()


def test_a_warehouse_that_cannot_answer_is_a_503_not_a_traceback(tmp_path: Path) -> None:
    """The API of an endpoint whose warehouse was never built: the serving layer is not there,
    so every report is a 503 with the engine's reason, in JSON."""
    port = free_port()
    users = {"ms.engineer": {"password": PASSWORD, "role": "readonly"}}
    with serving(tmp_path, "--api-port", str(port), users=users):
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                build = requests.get(f"{url}/v1/build", auth=("ms.engineer", PASSWORD), timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert build.status_code == 200
        assert build.json()["build"] == ""
        reply = requests.get(
            f"{url}/v1/classrooms/2025/T1/ELA-Q1", auth=("ms.engineer", PASSWORD), timeout=10
        )
        assert reply.status_code == 503
        assert reply.headers["content-type"].startswith("application/json")
        assert "cannot answer" in reply.json()["detail"]
        assert "Traceback" not in reply.text
