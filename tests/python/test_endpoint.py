"""`scores serve`: real ClickHouse clients against the HTTP endpoint over the embedded engine."""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request

import clickhouse_connect
import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from endpoint.server import serve
from endpoint.users import User, Users
from loaders.generator import GeneratorSpec
from loaders.load import load_generated
from loaders.progress import LoadProgress


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def endpoint(warehouse):
    users = Users([User("default", ""), User("bi", "bi-secret", "readonly"), User("loader", "l-secret")])
    port = _free_port()
    server = serve(str(warehouse.settings.chdb_path), "127.0.0.1", port, users, max_request_bytes=1 << 20)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield warehouse, port
    server.shutdown()
    server.server_close()


def _client(port: int, **kwargs):
    return clickhouse_connect.get_client(host="127.0.0.1", port=port, **kwargs)


def test_ping_and_plain_http(endpoint):
    _, port = endpoint
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/ping").read() == b"Ok.\n"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/?default_format=JSONEachRow", data=b"SELECT 1 AS x"
    )
    with urllib.request.urlopen(request) as response:
        assert response.read() == b'{"x":1}\n'
        assert response.headers["X-ClickHouse-Format"] == "JSONEachRow"
        assert response.headers["X-ClickHouse-Query-Id"]
        assert "read_rows" in response.headers["X-ClickHouse-Summary"]
        assert response.headers["X-ClickHouse-Timezone"]


def test_query_insert_parameters_and_compression(endpoint):
    warehouse, port = endpoint
    _client(port).command(f"CREATE DATABASE IF NOT EXISTS `{warehouse.db}`")
    client = _client(port, database=warehouse.db, compress=True)
    client.command("CREATE TABLE t (a UInt32, s String, d Date) ENGINE = MergeTree ORDER BY a")
    client.insert("t", [[1, "x"], [2, "y"]], column_names=["a", "s"])
    client.insert_arrow("t", pa.table({"a": pa.array([3], pa.uint32()), "s": ["z"]}))
    result = client.query("SELECT a, s FROM t WHERE a >= {low:UInt32} ORDER BY a", parameters={"low": 2})
    assert result.result_rows == [(2, "y"), (3, "z")]
    assert client.query("SELECT getSetting('max_threads')", settings={"max_threads": 1}).result_rows == [(1,)]
    assert client.query_df("SELECT * FROM t").shape == (3, 3)


def test_sessions_keep_settings_and_temporary_tables(endpoint):
    _, port = endpoint
    first = _client(port, session_id="session-one")
    other = _client(port, session_id="session-two")
    first.command("CREATE TEMPORARY TABLE scratch (x UInt8)")
    first.command("INSERT INTO scratch VALUES (7)")
    assert first.query("SELECT x FROM scratch").result_rows == [(7,)]
    with pytest.raises(DatabaseError, match="scratch"):
        other.query("SELECT x FROM scratch")


def test_errors_are_clickhouse_errors(endpoint):
    _, port = endpoint
    client = _client(port)
    with pytest.raises(DatabaseError) as info:
        client.query("SELEC 1")
    assert "Code: 62" in str(info.value)
    assert "Traceback" not in str(info.value)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"SELECT * FROM no_such_table")
    with pytest.raises(urllib.error.HTTPError) as http_error:
        urllib.request.urlopen(request)
    assert http_error.value.headers["X-ClickHouse-Exception-Code"] == "60"
    body = http_error.value.read().decode()
    assert body.startswith("Code: 60. DB::Exception:")
    assert "Traceback" not in body


def test_users_readonly_and_authentication(endpoint):
    warehouse, port = endpoint
    load_generated(warehouse.landing, GeneratorSpec(rows=500, seed=1), LoadProgress(enabled=False))
    bi = _client(port, username="bi", password="bi-secret")
    assert bi.query(f"SELECT count() FROM `{warehouse.raw}`.student_scores").result_rows == [(500,)]
    for statement in (
        f"INSERT INTO `{warehouse.raw}`.quarantine (source) VALUES ('x')",
        f"DROP TABLE `{warehouse.raw}`.student_scores",
        f"CREATE TABLE `{warehouse.raw}`.x (a UInt8) ENGINE = Memory",
        f"/* looks harmless */ -- really\n TRUNCATE TABLE `{warehouse.raw}`.student_scores",
    ):
        with pytest.raises(DatabaseError, match="readonly"):
            bi.command(statement)
    assert warehouse.scalar(f"SELECT count() FROM `{warehouse.raw}`.student_scores") == 500
    with pytest.raises(DatabaseError, match="Authentication failed"):
        _client(port, username="bi", password="wrong")
    with pytest.raises(DatabaseError, match="Authentication failed"):
        _client(port, username="nobody", password="")
    writer = _client(port, username="loader", password="l-secret")
    writer.command(f"CREATE TABLE `{warehouse.raw}`.ok (a UInt8) ENGINE = Memory")


def test_request_size_limit(endpoint):
    _, port = endpoint
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"SELECT '" + b"x" * (2 << 20) + b"'")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 413
    assert "limit" in info.value.read().decode()


def test_dbt_build_through_the_endpoint_while_clients_read(endpoint, monkeypatch):
    """dbt-clickhouse's http driver builds the project through the endpoint; readers keep working."""
    warehouse, port = endpoint
    load_generated(warehouse.landing, GeneratorSpec(rows=3_000, seed=5), LoadProgress(enabled=False))
    for key, value in {
        "SCORES_TARGET": "server",
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(port),
        "CLICKHOUSE_USER": "loader",
        "CLICKHOUSE_PASSWORD": "l-secret",
    }.items():
        monkeypatch.setenv(key, value)
    errors: list[str] = []
    reads = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal reads
        client = _client(port, username="bi", password="bi-secret")
        while not stop.is_set():
            try:
                client.query(f"SELECT count() FROM `{warehouse.raw}`.student_scores")
                reads += 1
            except Exception as ex:  # any failure is a test failure
                errors.append(str(ex))
            time.sleep(0.01)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        warehouse.dbt("build")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert reads > 10
    bi = _client(port, username="bi", password="bi-secret")
    assert bi.query(f"SELECT sum(student_count) FROM `{warehouse.db}`.agg_classroom_scores").result_rows == [
        (3_000,)
    ]
    os.environ.pop("SCORES_TARGET", None)
