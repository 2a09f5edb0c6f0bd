"""`scores serve`: real ClickHouse clients against the HTTP endpoint, a real process on its own
data directory (the loaders and dbt reach it as a ClickHouse server)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, ProgrammingError
from served import Served, serving

from loaders.config import PROJECT_DIR


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("endpoint"), "--max-request-mb", "64") as server:
        yield server


def _client(
    served: Served, user: str = "loader", password: str | None = None, **kwargs: Any
) -> clickhouse_connect.driver.Client:
    secret = password or {"loader": "l-secret", "bi": "bi-secret"}.get(user, "x")
    return clickhouse_connect.get_client(
        host="127.0.0.1", port=served.port, username=user, password=secret, **kwargs
    )


def _as_server(served: Served, user: str = "loader") -> dict[str, str]:
    """The environment that points the loaders and the dbt profile at the endpoint."""
    return {
        **served.env,
        "SCORES_TARGET": "server",
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(served.port),
        "CLICKHOUSE_USER": user,
        "CLICKHOUSE_PASSWORD": {"loader": "l-secret", "bi": "bi-secret"}[user],
        "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles"),
    }


def test_ping_and_plain_http(served: Served) -> None:
    assert urllib.request.urlopen(f"{served.url}/ping").read() == b"Ok.\n"
    reply = served.request("SELECT 1 AS x", "bi", params={"default_format": "JSONEachRow"})
    assert reply.body == b'{"x":1}\n'
    assert reply.headers["x-clickhouse-format"] == "JSONEachRow"
    assert reply.headers["x-clickhouse-query-id"]
    assert "read_rows" in reply.headers["x-clickhouse-summary"]
    assert reply.headers["x-clickhouse-timezone"]


def test_query_insert_parameters_and_compression(served: Served) -> None:
    writer = _client(served, compress=True)
    writer.command("CREATE DATABASE IF NOT EXISTS scores")
    writer.command("CREATE TABLE scores.t (a UInt32, s String, d Date) ENGINE = MergeTree ORDER BY a")
    try:
        writer.insert("scores.t", [[1, "x"], [2, "y"]], column_names=["a", "s"])
        writer.insert_arrow("scores.t", pa.table({"a": pa.array([3], pa.uint32()), "s": ["z"]}))
        served.ok("INSERT INTO scores.t (a, s) VALUES (4, 'v')")
        served.ok('INSERT INTO scores.t (a, s) FORMAT CSV\n5,"w"\n')
        reader = _client(served, "bi", database="scores")
        result = reader.query("SELECT a, s FROM t WHERE a >= {low:UInt32} ORDER BY a", parameters={"low": 2})
        assert result.result_rows == [(2, "y"), (3, "z"), (4, "v"), (5, "w")]
        # a reader runs with readonly = 1: clickhouse-connect sees every setting as read-only
        with pytest.raises(ProgrammingError, match="readonly"):
            reader.query("SELECT 1", settings={"max_threads": 1})
        assert writer.query("SELECT getSetting('max_threads')", settings={"max_threads": 1}).result_rows == [
            (1,)
        ]
        assert reader.query_df("SELECT * FROM scores.t").shape == (5, 3)
    finally:
        writer.command("DROP TABLE scores.t")


def test_sessions_keep_settings_and_temporary_tables(served: Served) -> None:
    first = _client(served, session_id="session-one")
    other = _client(served, session_id="session-two")
    first.command("CREATE TEMPORARY TABLE scratch (x UInt8)")
    first.command("INSERT INTO scratch VALUES (7)")
    assert first.query("SELECT x FROM scratch").result_rows == [(7,)]
    with pytest.raises(DatabaseError, match="scratch"):
        other.query("SELECT x FROM scratch")
    # without a session a temporary table would outlive its request on a shared connection
    assert served.request("CREATE TEMPORARY TABLE scratch (x UInt8)", "loader").status == 403


def test_errors_are_clickhouse_errors(served: Served) -> None:
    client = _client(served)
    with pytest.raises(DatabaseError) as info:
        client.query("SELEC 1")
    assert "Code: 62" in str(info.value)
    assert "Traceback" not in str(info.value)
    request = urllib.request.Request(
        f"{served.url}/",
        data=b"SELECT * FROM scores.no_such_table",
        headers={"X-ClickHouse-User": "bi", "X-ClickHouse-Key": "bi-secret"},
    )
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request)
    assert http_error.value.headers["X-ClickHouse-Exception-Code"] in ("60", "81")
    body = http_error.value.read().decode()
    assert body.startswith("Code: ")
    assert "Traceback" not in body


def test_users_readonly_and_authentication(served: Served) -> None:
    writer = _client(served)
    writer.command("CREATE DATABASE IF NOT EXISTS scores_raw")
    writer.command("CREATE TABLE scores_raw.users_t (a UInt8) ENGINE = Memory")
    writer.command("INSERT INTO scores_raw.users_t VALUES (1), (2)")
    bi = _client(served, "bi")
    assert bi.query("SELECT count() FROM scores_raw.users_t").result_rows == [(2,)]
    for statement in (
        "INSERT INTO scores_raw.users_t VALUES (3)",
        "DROP TABLE scores_raw.users_t",
        "CREATE TABLE scores_raw.x (a UInt8) ENGINE = Memory",
        "/* looks harmless */ -- really\n TRUNCATE TABLE scores_raw.users_t",
    ):
        with pytest.raises(DatabaseError, match="readonly"):
            bi.command(statement)
    assert writer.query("SELECT count() FROM scores_raw.users_t").result_rows == [(2,)]
    with pytest.raises(DatabaseError, match="Authentication failed"):
        _client(served, "bi", password="wrong")
    with pytest.raises(DatabaseError, match="Authentication failed"):
        _client(served, "nobody")
    writer.command("DROP TABLE scores_raw.users_t")


def test_request_size_limit(served: Served) -> None:
    reply = served.request(b"SELECT '" + b"x" * (2 << 20) + b"'", "bi")
    assert reply.status == 413
    assert "limit" in reply.text


def test_users_file_changes_take_effect_on_the_next_request(tmp_path: Path) -> None:
    users = {
        "bi": {"password": "bi-secret", "role": "readonly"},
        "gone": {"password": "g", "role": "readonly"},
    }
    with serving(tmp_path, users=users) as server:
        assert server.request("SELECT 1", "gone", password="g").status == 200
        del users["gone"]
        server.users_file.write_text(__import__("json").dumps(users))
        assert server.request("SELECT 1", "gone", password="g").status == 401
        assert server.request("SELECT 1", "bi").status == 200


def test_loaders_and_dbt_build_through_the_endpoint_while_clients_read(served: Served) -> None:
    """`scores generate` and dbt-clickhouse's http driver work through the endpoint; readers keep
    working during the build, and every statement they send passes its checks."""
    env = _as_server(served)
    generated = subprocess.run(
        [sys.executable, "-m", "cli.main", "generate", "--rows", "3000", "--seed", "5", "--quiet"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    errors: list[str] = []
    reads = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal reads
        client = _client(served, "bi")
        while not stop.is_set():
            try:
                client.query("SELECT count() FROM scores_raw.student_scores")
                reads += 1
            except Exception as ex:  # any failure is a test failure
                errors.append(str(ex))
            time.sleep(0.01)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        build = subprocess.run(
            [
                str(Path(sys.executable).parent / "dbt"),
                "build",
                "--quiet",
                "--project-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(served.data_dir.parent / "target"),
                "--log-path",
                str(served.data_dir.parent / "logs"),
            ],
            env=env,
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:] + served.log.read_text()[-4000:]
    assert not errors, errors[:3]
    assert reads > 10
    bi = _client(served, "bi")
    assert bi.query("SELECT sum(student_count) FROM scores.agg_classroom_scores").result_rows == [(3_000,)]


def test_two_loads_of_one_file_at_once_commit_it_once(served: Served, tmp_path: Path) -> None:
    """Two `scores load` processes on the same file at the same time, through the endpoint: the
    file is committed once, the other load waits and reports it, nobody rolls back a live load."""
    path = tmp_path / "same.csv"
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "generate",
            "--rows",
            "30000",
            "--seed",
            "77",
            "--out",
            str(path),
        ],
        env=_as_server(served),
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stderr
    for trial in range(3):
        copy = tmp_path / f"same-{trial}.csv"
        copy.write_bytes(path.read_bytes() + b"\n" * trial)  # a new checksum per trial
        loads = [
            subprocess.Popen(
                [sys.executable, "-m", "cli.main", "load", "--quiet", str(copy)],
                env=_as_server(served),
                cwd=PROJECT_DIR,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [load.communicate(timeout=600)[0] for load in loads]
        assert [load.returncode for load in loads] == [0, 0], outputs
        assert not any("Traceback" in out for out in outputs), outputs
        assert sum("loaded meanwhile" in out or "already loaded" in out for out in outputs) == 1, outputs
        writer = _client(served)
        committed = writer.query(
            "SELECT batch_id FROM scores_raw.load_audit FINAL "
            "WHERE status = 'committed' AND source LIKE {p:String}",
            parameters={"p": f"%same-{trial}.csv"},
        ).result_rows
        assert len(committed) == 1, committed
        assert writer.query(
            "SELECT count() FROM scores_raw.student_scores WHERE _batch_id = {b:String}",
            parameters={"b": committed[0][0]},
        ).result_rows == [(30_000,)]
