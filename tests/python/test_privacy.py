"""Student privacy: small groups suppressed in every published output, and roster roles.

A warehouse is generated and built by subprocess (whole classes of 18 to 32 students, so a minimum
of 25 hides groups and bands everywhere), a roster loaded with `scores roster load`, and a real
`scores serve` process answers each role over HTTP. Expected answers come from the engineer
role (unscoped) on the same endpoint, never from literals.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect
import disclosure
import pytest
from served import Served, serving

from loaders.config import PROJECT_DIR
from loaders.generator import GeneratorSpec
from loaders.load import load_generated
from loaders.progress import LoadProgress
from loaders.roles import SCOPED_OBJECTS, readable
from loaders.roster import Entry, render_access_sql

ROWS = 20_000
MIN_GROUP_SIZE = 25
BIN = Path(sys.executable).parent
PASSWORD = "pw-privacy"
WRITER = "loader"


@dataclass
class Stack:
    served: Served
    teacher: str  # a teacher id of the landed scores
    other_teacher: str  # one of another school
    school: str  # the teacher's school
    district: str  # the teacher's district
    env: dict[str, str]  # the CLI through the endpoint, as the writer

    def client(self, user: str) -> Any:
        return clickhouse_connect.get_client(
            host="127.0.0.1", port=self.served.port, username=user, password=PASSWORD, database="scores"
        )

    def cli(self, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "scores"), *args],
            env=self.env,
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            input=input_text,
            timeout=120,
        )


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 3), f"{' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


USERS = ("ms.teacher", "mr.principal", "ms.district", "mr.state", "ms.engineer", "not.listed")


def _roster(teacher: str, school: str, district: str) -> str:
    return (
        "user,role,scope\n"
        f"ms.teacher,teacher,{teacher}\n"
        f"mr.principal,principal,{school}\n"
        f"ms.district,district,{district}\n"
        "mr.state,state,\n"
        "ms.engineer,engineer,\n"
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("privacy")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SCORES_DATABASE", "SCORES_RAW_DATABASE")},
        "SCORES_TARGET": "dev",
        "SCORES_CHDB_PATH": str(base / "chdb"),
        "SCORES_MIN_GROUP_SIZE": str(MIN_GROUP_SIZE),
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
    }
    _run([str(BIN / "scores"), "generate", "--rows", str(ROWS), "--quiet"], env)
    _run(
        [
            str(BIN / "dbt"),
            "build",
            "--quiet",
            "--target-path",
            str(base / "target"),
            "--log-path",
            str(base),
        ],
        env,
    )
    users = {name: {"password": PASSWORD, "role": "roster"} for name in USERS}
    users[WRITER] = {"password": PASSWORD, "role": "readwrite"}
    with serving(base, users=users, env={"SCORES_MIN_GROUP_SIZE": str(MIN_GROUP_SIZE)}) as served:
        writer = clickhouse_connect.get_client(
            host="127.0.0.1", port=served.port, username=WRITER, password=PASSWORD
        )
        teacher, school, district = writer.query(
            "SELECT teacher_id, school_id, district_id FROM scores.agg_classroom_scores "
            "ORDER BY school_year DESC, teacher_id LIMIT 1"
        ).result_rows[0]
        other = writer.query(
            "SELECT teacher_id FROM scores.agg_classroom_scores WHERE school_id != {s:String} LIMIT 1",
            parameters={"s": school},
        ).result_rows[0][0]
        cli_env = {
            **env,
            "SCORES_TARGET": "server",
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(served.port),
            "CLICKHOUSE_USER": WRITER,
            "CLICKHOUSE_PASSWORD": PASSWORD,
        }
        built = Stack(served, teacher, other, school, district, cli_env)
        roster = base / "roster.csv"
        roster.write_text(_roster(teacher, school, district))
        loaded = built.cli("roster", "load", str(roster))
        assert loaded.returncode == 0, loaded.stderr
        yield built


# -- suppression ------------------------------------------------------------------------------


def test_published_outputs_hide_small_groups_and_nothing_is_recoverable(stack):
    engineer = stack.client("ms.engineer")
    disclosure.assert_views_follow_the_rule(engineer, "scores", MIN_GROUP_SIZE)
    disclosure.assert_nothing_recoverable(engineer, "scores", MIN_GROUP_SIZE)
    hidden = engineer.query(
        "SELECT countIf(suppression_reason = 'small group'), countIf(suppression_reason = 'complementary') "
        "FROM scores.rpt_school_grade_scores"
    ).result_rows[0]
    assert hidden[0] > 0
    assert hidden[1] > 0
    # the lookups serve what the views publish: a hidden classroom's average is NULL everywhere
    (key, average) = engineer.query(
        "SELECT (school_year, teacher_id, test_id), avg_score FROM scores.rpt_classroom_scores "
        "WHERE is_suppressed = 1 LIMIT 1"
    ).result_rows[0]
    assert average is None
    rows = engineer.query(
        "SELECT report_rows FROM scores.dict_classroom_report "
        "WHERE (school_year, teacher_id, test_id) = {k:Tuple(UInt16, String, String)}",
        parameters={"k": key},
    ).result_rows[0][0]
    assert {row["suppression_label"] for row in rows} == {f"n<{MIN_GROUP_SIZE}"}
    assert all(row["avg_score"] is None for row in rows)
    context = engineer.query(
        "SELECT DISTINCT classroom_avg_score FROM scores.srv_student_context "
        "WHERE (school_year, teacher_id, test_id) = {k:Tuple(UInt16, String, String)}",
        parameters={"k": key},
    ).result_rows
    assert context == [(None,)]


def test_the_published_groups_follow_the_minimum_and_stay_safe_at_each(warehouse, monkeypatch):
    """One warehouse rebuilt at several minimums: each time the views hide exactly what the rule
    hides and nothing is recoverable; more groups are hidden as the minimum grows (none at 0), and
    the marts under them never change."""
    load_generated(warehouse.landing, GeneratorSpec(rows=8_000, seed=5), LoadProgress(enabled=False))
    warehouse.dbt("build")
    marts = warehouse.rows(
        f"SELECT sum(student_count), count() FROM `{warehouse.db}`.agg_school_grade_scores"
    )
    small: list[int] = []
    hidden: list[int] = []
    for n in (0, 10, 20, 30):
        monkeypatch.setenv("SCORES_MIN_GROUP_SIZE", str(n))
        warehouse.dbt(
            "build",
            "-s",
            "rpt_classroom_scores+ rpt_school_grade_scores+ rpt_district_grade_scores+ rpt_district_scores+",
        )
        disclosure.assert_views_follow_the_rule(warehouse.client, warehouse.db, n)
        disclosure.assert_nothing_recoverable(warehouse.client, warehouse.db, n)
        counts = warehouse.rows(
            "SELECT countIf(suppression_reason = 'small group'), countIf(is_suppressed = 1) "
            f"FROM `{warehouse.db}`.rpt_school_grade_scores"
        )[0]
        small.append(counts[0])
        hidden.append(counts[1])
        assert (
            warehouse.rows(
                f"SELECT sum(student_count), count() FROM `{warehouse.db}`.agg_school_grade_scores"
            )
            == marts
        )
    assert hidden[0] == 0
    assert small == sorted(small)
    assert hidden[-1] > hidden[1] > 0


def test_scores_report_shows_suppressed_classrooms_as_such(stack):
    done = stack.cli("report", "--limit", "500")
    assert done.returncode == 0, done.stderr
    assert f"n<{MIN_GROUP_SIZE}" in done.stdout
    assert f"Groups of fewer than {MIN_GROUP_SIZE} students are not published" in done.stdout


# -- roles through the endpoint -----------------------------------------------------------------

SCOPES = {"ms.teacher": "teacher", "mr.principal": "school", "ms.district": "district"}


def _scope_column(user: str) -> str:
    return {"ms.teacher": "teacher_id", "mr.principal": "school_id", "ms.district": "district_id"}[user]


def _scope_value(stack: Stack, user: str) -> str:
    return {"ms.teacher": stack.teacher, "mr.principal": stack.school, "ms.district": stack.district}[user]


def _denied(stack: Stack, user: str, sql: str) -> str:
    reply = stack.served.request(sql, user=user, password=PASSWORD)
    assert reply.status >= 400, f"{user}: {sql!r} answered {reply.status}: {reply.text[:200]}"
    return reply.text


@pytest.mark.parametrize("user", ["ms.teacher", "mr.principal", "ms.district"])
def test_a_scoped_role_reads_only_its_rows_of_its_objects(stack, user):
    role = {"ms.teacher": "teacher", "mr.principal": "principal", "ms.district": "district"}[user]
    scoped = stack.client(user)
    engineer = stack.client("ms.engineer")
    value = _scope_value(stack, user)
    for table, columns in SCOPED_OBJECTS.items():
        if role not in columns:
            assert "ACCESS_DENIED" in _denied(stack, user, f"SELECT count() FROM scores.{table}")
            continue
        column = columns[role]
        seen = scoped.query(
            f"SELECT count(), countIf(toString({column}) != {{v:String}}) FROM scores.{table}",
            parameters={"v": value},
        ).result_rows[0]
        truth = engineer.query(
            f"SELECT countIf(toString({column}) = {{v:String}}) FROM scores.{table}", parameters={"v": value}
        ).result_rows[0][0]
        assert seen == (truth, 0), f"{user} on {table}: {seen}, expected {truth} rows, none of another scope"
        assert truth > 0, table
        # a filter, a join or a subquery does not reach other rows either
        other = scoped.query(
            f"SELECT count() FROM (SELECT * FROM scores.{table}) AS t "
            f"WHERE toString({column}) != {{v:String}}",
            parameters={"v": value},
        ).result_rows[0][0]
        assert other == 0
    for table in (
        "fct_student_scores",
        "agg_classroom_scores",
        "int_score_distributions",
        "dict_classroom_averages",
    ):
        assert "ACCESS_DENIED" in _denied(stack, user, f"SELECT count() FROM scores.{table}")
    for sql in (
        "SELECT count() FROM scores_raw.student_scores",
        "SELECT dictGet('scores.dict_classroom_averages', 'avg_score', "
        "(toUInt16(2025), 'T1', 'x', 'ELA', 's', 'd'))",
        "SELECT count() FROM system.processes",
        "SELECT count() FROM system.query_log",
        "SELECT count() FROM information_schema.tables",
        "SELECT * FROM file('/etc/passwd')",
        "SELECT * FROM url('http://127.0.0.1:1/')",
        "SELECT * FROM remote('127.0.0.1', scores.fct_student_scores)",
        "SELECT * FROM executable('id', 'TSV', 'x String')",
        "SELECT * FROM merge('scores', '^fct')",
        "SELECT 1 SETTINGS log_comment = ''",
        "SET log_comment = ''",
        "INSERT INTO scores.rpt_classroom_scores (teacher_id) VALUES ('x')",
        "DROP TABLE scores.rpt_classroom_scores",
        "CREATE TABLE scores.stolen ENGINE = Memory AS SELECT * FROM scores.fct_student_scores",
    ):
        _denied(stack, user, sql)
    assert set(readable(role)) >= {"subjects", "tests", "score_bands", "performance_levels"}


def test_unscoped_roles_and_writers_read_every_row(stack):
    engineer = stack.client("ms.engineer")
    state = stack.client("mr.state")
    for table in SCOPED_OBJECTS:
        total = engineer.query(f"SELECT count() FROM scores.{table}").result_rows[0][0]
        assert state.query(f"SELECT count() FROM scores.{table}").result_rows[0][0] == total
    assert "ACCESS_DENIED" in _denied(stack, "mr.state", "SELECT count() FROM scores.fct_student_scores")
    facts = engineer.query("SELECT count() FROM scores.fct_student_scores").result_rows[0][0]
    assert (
        facts == stack.client(WRITER).query("SELECT count() FROM scores.fct_student_scores").result_rows[0][0]
    )


def test_a_session_of_one_user_is_not_another_users(stack):
    session = "privacy-session-1"
    stack.served.request("SELECT 1", user="ms.engineer", password=PASSWORD, params={"session_id": session})
    reply = stack.served.request(
        "SELECT count() FROM scores.fct_student_scores",
        user="ms.teacher",
        password=PASSWORD,
        params={"session_id": session},
    )
    assert reply.status >= 400
    assert "locked" in reply.text.lower() or "SESSION" in reply.text


def test_roster_problems_are_named_and_nothing_is_applied_then_removal_is_immediate(stack, tmp_path):
    before = stack.cli("roster", "show").stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(
        _roster(stack.teacher, stack.school, stack.district)
        + "mr.nobody,teacher,T-NOT-THERE\n"
        + f"ms.teacher,principal,{stack.school}\n"
        + "mr.odd,superuser,\n"
    )
    done = stack.cli("roster", "load", str(bad))
    assert done.returncode == 1
    assert f"{bad}: row 7, column scope" in done.stderr
    assert "T-NOT-THERE" in done.stderr
    assert f"{bad}: row 8, column role" in done.stderr
    assert f"{bad}: row 9, column role" in done.stderr
    assert stack.cli("roster", "show").stdout == before
    assert stack.served.request("SELECT 1", user="ms.teacher", password=PASSWORD).status == 200

    without = tmp_path / "without.csv"
    without.write_text(
        "\n".join(
            line
            for line in _roster(stack.teacher, stack.school, stack.district).splitlines()
            if not line.startswith("ms.teacher,")
        )
        + "\n"
    )
    assert stack.cli("roster", "load", str(without)).returncode == 0
    try:
        reply = stack.served.request("SELECT 1", user="ms.teacher", password=PASSWORD)
        assert reply.status >= 400
        assert "roster" in reply.text
    finally:
        restore = tmp_path / "restore.csv"
        restore.write_text(_roster(stack.teacher, stack.school, stack.district))
        assert stack.cli("roster", "load", str(restore)).returncode == 0
    assert stack.served.request("SELECT 1", user="ms.teacher", password=PASSWORD).status == 200


# -- a server or cluster target -----------------------------------------------------------------


def test_the_roster_renders_server_users_roles_and_row_policies(stack):
    entries = [
        Entry("ms.teacher", "teacher", (stack.teacher,)),
        Entry("mr.principal", "principal", (stack.school,)),
        Entry("mr.state", "state"),
    ]
    hashes = {e.user: "ab" * 32 for e in entries}
    statements = render_access_sql(entries, "scores", "scores_raw", hashes, cluster="scores_cluster")
    writer = stack.client(WRITER)
    # the engine's own parser reads each one back (parseQueryToJSON does not serialize access
    # statements; formatQuery parses and prints them)
    formatted = [
        writer.query("SELECT formatQuerySingleLine({q:String})", parameters={"q": sql}).result_rows[0][0]
        for sql in statements
    ]
    assert all("ON CLUSTER scores_cluster" in text for text in formatted), formatted
    kinds = {text.split(" ON ")[0].split(" IF ")[0].split(" OR ")[0] for text in formatted}
    assert kinds == {"CREATE ROLE", "GRANT", "CREATE USER", "CREATE ROW POLICY"}, kinds
    policies = [s for s in statements if s.startswith("CREATE ROW POLICY")]
    teacher = [s for s in policies if "TO `ms.teacher`" in s]
    assert len(teacher) == sum("teacher" in c for c in SCOPED_OBJECTS.values())
    assert all(f"IN ('{stack.teacher}')" in s for s in teacher)
    unscoped = [s for s in policies if "scores_unscoped" in s]
    assert len(unscoped) == len(SCOPED_OBJECTS)
    assert all("TO ALL EXCEPT `ms.teacher`, `mr.principal`" in s for s in unscoped)
    assert any(
        "CREATE USER IF NOT EXISTS `mr.state`" in s and "DEFAULT ROLE `scores_state`" in s for s in statements
    )
