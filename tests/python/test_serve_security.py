"""`scores serve` under attack: every class of the security review, over real sockets, against a
real `scores serve` process with its own data directory.

Each attack is checked for its answer (HTTP status) and for what it must not do: change a table,
touch a host file, or open a connection to a server (a local listener counts every attempt).
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import Served, free_port, serving


class Listener:
    """A TCP listener on loopback that counts connection attempts (outbound-request canary)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self.port))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._socket.accept()
            except OSError:
                continue
            self.connections += 1
            client.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve_security")
    with serving(tmp, "--reader-timeout", "3", "--socket-timeout", "2") as server:
        server.ok("CREATE DATABASE IF NOT EXISTS scores")
        server.ok("CREATE DATABASE IF NOT EXISTS scores_raw")
        server.ok(
            "CREATE TABLE scores.sentinel (teacher_id String, score UInt8) "
            "ENGINE = MergeTree ORDER BY teacher_id"
        )
        server.ok("INSERT INTO scores.sentinel VALUES ('T1', 70), ('T2', 80)")
        server.ok("CREATE TABLE scores_raw.quarantine (source String) ENGINE = MergeTree ORDER BY source")
        yield server


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("host") / "secret.txt"
    path.write_text("TOP-SECRET-CANARY\n")
    return path


def _state(served: Served) -> tuple[str, str]:
    tables = served.ok(
        "SELECT database, name FROM system.tables WHERE database IN ('scores', 'scores_raw') ORDER BY 1, 2"
    )
    rows = served.ok("SELECT teacher_id, score FROM scores.sentinel ORDER BY 1") + served.ok(
        "SELECT count() FROM scores_raw.quarantine"
    )
    return tables, rows


# -- the attack matrix ------------------------------------------------------------------------


def _attacks(secret: Path, canary: Path, port: int) -> list[tuple[str, str]]:
    """(name, SQL) of statements no endpoint user may run; {canary} files must never appear."""
    host = f"127.0.0.1:{port}"
    return [
        ("multi statement drop", "SELECT 1; DROP TABLE scores.sentinel; SELECT 2"),
        ("multi statement insert", "SELECT 1;INSERT INTO scores_raw.quarantine VALUES ('forged')"),
        ("multi statement outfile", f"SELECT 1; SELECT 'x' INTO OUTFILE '{canary}'"),
        ("file table function", f"SELECT * FROM file('{secret}', 'LineAsString')"),
        ("file scalar function", f"SELECT file('{secret}')"),
        ("file in a subquery", f"SELECT (SELECT any(line) FROM file('{secret}', 'LineAsString'))"),
        ("file in a view()", f"SELECT * FROM view(SELECT * FROM file('{secret}', 'LineAsString'))"),
        ("file via describe", f"DESCRIBE TABLE file('{secret}', 'CSVWithNames')"),
        ("filesystem table function", f"SELECT * FROM filesystem('{secret.parent}')"),
        ("into outfile", f"SELECT 'x' INTO OUTFILE '{canary}'"),
        ("into outfile truncate", f"SELECT 'x' INTO OUTFILE '{canary}' TRUNCATE"),
        ("into outfile append", f"SELECT 'x' INTO OUTFILE '{canary}' APPEND"),
        ("into outfile compressed", f"SELECT 'x' INTO OUTFILE '{canary}' COMPRESSION 'gzip'"),
        ("into outfile in union", f"SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '{canary}'"),
        ("into stdout", "SELECT 'x' INTO STDOUT"),
        ("explain into outfile", f"EXPLAIN SELECT 1 INTO OUTFILE '{canary}'"),
        (
            "insert from infile",
            f"INSERT INTO scores_raw.quarantine FROM INFILE '{secret}' FORMAT LineAsString",
        ),
        ("insert into function file", f"INSERT INTO FUNCTION file('{canary}', 'CSV') SELECT 1"),
        ("url", f"SELECT * FROM url('http://{host}/x', 'CSV', 'a String')"),
        ("s3", f"SELECT * FROM s3('http://{host}/bucket/x.csv', 'CSV', 'a String')"),
        ("remote", f"SELECT * FROM remote('{host}', system.one)"),
        ("remote secure", f"SELECT * FROM remoteSecure('{host}', system.one)"),
        ("mysql", f"SELECT * FROM mysql('{host}', 'd', 't', 'u', 'p')"),
        ("postgresql", f"SELECT * FROM postgresql('{host}', 'd', 't', 'u', 'p')"),
        ("hdfs", f"SELECT * FROM hdfs('hdfs://{host}/x', 'CSV', 'a String')"),
        ("azure", f"SELECT * FROM azureBlobStorage('http://{host}/acct', 'c', 'b.csv', 'CSV', 'a String')"),
        ("mongodb", f"SELECT * FROM mongodb('{host}', 'd', 'c', 'u', 'p', 'a String')"),
        ("redis", f"SELECT * FROM redis('{host}', 'k', 'k String, v String')"),
        ("executable", "SELECT * FROM executable('cat /etc/passwd', 'LineAsString', 'line String')"),
        ("merge over system", "SELECT * FROM merge('system', '^processes$')"),
        ("ai function", f"SELECT aiGenerate('hello', 'http://{host}')"),
        ("dictionary over a file", "SELECT * FROM dictionary('nope')"),
        ("system processes", "SELECT query FROM system.processes"),
        ("system users", "SELECT * FROM system.users"),
        ("backup to file", f"BACKUP TABLE scores.sentinel TO File('{canary}')"),
        ("identifier parameter", "SELECT * FROM {t:Identifier}"),
        ("set role", "SET ROLE ALL"),
        ("execute as", "EXECUTE AS default SELECT 1"),
        ("system shutdown", "SYSTEM SHUTDOWN"),
        ("kill mutation", "KILL MUTATION WHERE 1"),
        ("template file", f"SELECT 1 FORMAT Template SETTINGS format_template_row = '{secret}'"),
        ("schema registry", f"SELECT 1 SETTINGS format_avro_schema_registry_url = 'http://{host}'"),
        ("error log file", f"SELECT 1 SETTINGS input_format_record_errors_file_path = '{canary}'"),
        ("schema file written", f"SELECT 1 FORMAT Protobuf SETTINGS output_format_schema = '{canary}'"),
        ("shared query cache", "SELECT 1 SETTINGS use_query_cache = 1"),
    ]


def _writer_attacks(secret: Path, canary: Path, port: int) -> list[tuple[str, str]]:
    """Statements that only a writer could try: DDL reaching files, servers or other databases."""
    host = f"127.0.0.1:{port}"
    return [
        ("file engine", f"CREATE TABLE scores.f (line String) ENGINE = File(LineAsString, '{secret}')"),
        ("url engine", f"CREATE TABLE scores.u (a String) ENGINE = URL('http://{host}/x', CSV)"),
        ("filesystem database", f"CREATE DATABASE fs ENGINE = Filesystem('{secret.parent}')"),
        ("create as table function", f"CREATE TABLE scores.f AS file('{secret}', 'LineAsString')"),
        ("default from file", f"CREATE TABLE scores.f (a String DEFAULT file('{secret}')) ENGINE = Memory"),
        ("view over a file", f"CREATE VIEW scores.v AS SELECT * FROM file('{secret}', 'LineAsString')"),
        (
            "dictionary from a file",
            f"CREATE DICTIONARY scores.d (line String) PRIMARY KEY line SOURCE(FILE(path '{secret}' format "
            "'LineAsString')) LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)",
        ),
        (
            "dictionary from a server",
            "CREATE DICTIONARY scores.d (a String) PRIMARY KEY a "
            f"SOURCE(CLICKHOUSE(HOST '127.0.0.1' PORT {port} TABLE 'x')) "
            "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)",
        ),
        (
            "dictionary whose query reads a file",
            "CREATE DICTIONARY scores.d (line String) PRIMARY KEY line SOURCE(CLICKHOUSE(QUERY "
            f"'SELECT line FROM file(''{secret}'', ''LineAsString'')')) "
            "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)",
        ),
        ("attach from path", f"ATTACH TABLE scores.a FROM '{secret.parent}' (a String) ENGINE = Memory"),
        ("write outside the project", "CREATE TABLE default.x (a UInt8) ENGINE = Memory"),
        ("write to system", "INSERT INTO system.one VALUES (1)"),
        ("values interpret a function", f"INSERT INTO scores_raw.quarantine VALUES (file('{secret}'))"),
        ("freeze", "ALTER TABLE scores.sentinel FREEZE"),
        ("lift the time limit", "SELECT 1 SETTINGS max_execution_time = 0"),
        ("change the scope carrier", "SELECT 1 SETTINGS log_comment = 'scores-scope:teacher:T1'"),
        ("switch profile", "SET profile = 'default'"),
        ("parse another dialect", "SELECT 1 SETTINGS dialect = 'prql'"),
        ("truncate all", "TRUNCATE ALL TABLES FROM scores"),
        (
            "table on a made-up disk",
            f"CREATE TABLE scores.d (a String) ENGINE = MergeTree ORDER BY a "
            f"SETTINGS disk = disk(type = local, path = '{secret.parent}/')",
        ),
        ("template settings in a session", f"SET format_template_row = '{secret}'"),
    ]


@pytest.mark.parametrize("who", ["nobody", "wrong password", "readonly", "readwrite"])
def test_attack_matrix(served: Served, secret: Path, tmp_path: Path, who: str) -> None:
    listener = Listener()
    canary = tmp_path / "canary.txt"
    before = _state(served)
    user, password = {
        "nobody": (None, None),
        "wrong password": ("bi", "wrong"),
        "readonly": ("bi", None),
        "readwrite": ("loader", None),
    }[who]
    attacks = _attacks(secret, canary, listener.port)
    if who == "readwrite":
        attacks += _writer_attacks(secret, canary, listener.port)
    try:
        for name, sql in attacks:
            reply = served.request(sql, user, password=password)
            expected = (401,) if who in ("nobody", "wrong password") else (400, 403, 404, 501)
            assert reply.status in expected, f"{who}: {name}: {reply.status} {reply.text}"
            assert "TOP-SECRET-CANARY" not in reply.text, name
            assert "Traceback" not in reply.text, name
            assert not canary.exists(), f"{who}: {name} wrote a host file"
        # readers: writes refused with READONLY; the sentinel and quarantine are intact
        if who == "readonly":
            for sql in (
                "DROP TABLE scores.sentinel",
                "INSERT INTO scores_raw.quarantine VALUES ('forged')",
                "ALTER TABLE scores.sentinel DELETE WHERE 1",
                "/* harmless */ -- really\n TRUNCATE TABLE scores.sentinel",
                "CREATE TABLE scores.x (a UInt8) ENGINE = Memory",
                "OPTIMIZE TABLE scores.sentinel",
            ):
                reply = served.request(sql, user)
                assert reply.status == 403, (sql, reply.text)
                assert "readonly" in reply.text, (sql, reply.text)
    finally:
        time.sleep(0.3)
        listener.close()
    assert listener.connections == 0, f"{who}: an attack reached a server"
    assert _state(served) == before
    assert served.alive()


def test_what_each_user_may_still_do(served: Served) -> None:
    assert served.ok("SELECT teacher_id, score FROM scores.sentinel ORDER BY 1 FORMAT CSV", "bi") == (
        '"T1",70\n"T2",80\n'
    )
    assert (
        served.ok(
            "SELECT count() FROM scores.sentinel WHERE score > {s:UInt8}", "bi", params={"param_s": "75"}
        )
        == "1\n"
    )
    assert "sentinel" in served.ok("SHOW TABLES FROM scores", "bi")
    assert "score" in served.ok("DESCRIBE TABLE scores.sentinel", "bi")
    assert served.ok("EXISTS TABLE scores.sentinel", "bi") == "1\n"
    assert "MergeTree" in served.ok("SHOW CREATE TABLE scores.sentinel", "bi")
    assert served.ok("WITH t AS (SELECT 1 AS x) SELECT x FROM t", "bi") == "1\n"
    assert served.ok("SELECT count() FROM numbers(10)", "bi") == "10\n"
    assert served.ok("SELECT name FROM system.databases WHERE name = 'scores'", "bi") == "scores\n"
    assert "count()" in served.ok("EXPLAIN SELECT count() FROM scores.sentinel", "bi")
    # a writer's dictionary loses the credentials it names (the engine reads as itself) and works
    served.ok(
        "CREATE DICTIONARY scores.sentinel_dict (teacher_id String, score UInt8) PRIMARY KEY teacher_id "
        "SOURCE(CLICKHOUSE(TABLE 'sentinel' DB 'scores' USER 'default' PASSWORD 'x')) "
        "LAYOUT(COMPLEX_KEY_HASHED()) LIFETIME(0)"
    )
    try:
        assert served.ok("SELECT dictGet('scores.sentinel_dict', 'score', tuple('T2'))", "bi") == "80\n"
        assert "PASSWORD" not in served.ok("SHOW CREATE DICTIONARY scores.sentinel_dict", "loader").upper()
    finally:
        served.ok("DROP DICTIONARY scores.sentinel_dict")


def test_limits_cannot_be_lifted(served: Served) -> None:
    """The engine holds every user to its role's limits: in SET, SETTINGS and URL parameters."""
    for sql, params in (
        ("SELECT 1 SETTINGS max_execution_time = 0", None),
        ("SELECT 1 SETTINGS max_memory_usage = 0", None),
        ("SELECT 1 SETTINGS max_result_rows = 0", None),
        ("SELECT 1", {"max_execution_time": "0"}),
        ("SELECT 1", {"max_memory_usage": "0"}),
        ("SELECT 1", {"max_result_bytes": "100000000000000"}),
        ("SELECT 1", {"readonly": "0"}),
    ):
        for user in ("bi", "loader"):
            reply = served.request(sql, user, params=params)
            assert reply.status in (400, 403), (user, sql, params, reply.text)
    session = {"session_id": "limits-session"}
    assert served.request("SET max_execution_time = 0", "bi", params=session).status == 403
    assert served.request("SET max_execution_time = 100000", "loader", params=session).status == 403
    # the reader's time limit stops a long query
    started = time.monotonic()
    reply = served.request("SELECT count() FROM numbers(100000000000000) WHERE sleepEachRow(0) = 0", "bi")
    assert reply.status != 200
    assert "TIMEOUT_EXCEEDED" in reply.text, reply.text
    assert time.monotonic() - started < 30
    # and lowering a limit is allowed
    assert (
        served.ok("SELECT getSetting('max_execution_time')", "bi", params={"max_execution_time": "2"})
        == "2\n"
    )


def test_one_huge_request_does_not_stall_the_server(served: Served) -> None:
    """Whitespace before a statement costs linear time in the engine's parser, off the other
    clients' path: /ping answers while a large body is being handled."""
    body = b" " * (900 << 10) + b"SELECT 1"
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(served.request(body, "bi").status))
    worker.start()
    started = time.monotonic()
    assert served.alive()
    assert time.monotonic() - started < 5
    worker.join(60)
    assert result
    assert result[0] in (200, 400)


def test_decompression_bomb_stops_at_the_limit(served: Served) -> None:
    bomb = gzip.compress(b"SELECT 1 -- " + b" " * (512 << 20), compresslevel=9)
    assert len(bomb) < 1 << 20
    before = served.rss_bytes()
    reply = served.request(bomb, "bi", headers={"Content-Encoding": "gzip"})
    assert reply.status == 413, reply.text
    assert served.rss_bytes() - before < 200 << 20
    deflated = zlib.compress(b" " * (64 << 20))
    reply = served.request(deflated, "bi", headers={"Content-Encoding": "deflate"})
    assert reply.status == 413
    assert served.request(b"SELECT 1", "bi", headers={"Content-Encoding": "br"}).status == 415
    assert (
        served.request(gzip.compress(b"SELECT 7"), "bi", headers={"Content-Encoding": "gzip"}).text == "7\n"
    )
    assert (
        served.request(gzip.compress(b"SELECT 7")[:-6], "bi", headers={"Content-Encoding": "gzip"}).status
        == 400
    )


def _raw(served: Served, data: bytes, wait: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", served.port), timeout=wait) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def _auth(user: str = "loader", password: str = "l-secret") -> bytes:
    import base64

    return b"Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()) + b"\r\n"


def test_request_framing(served: Served) -> None:
    head = (
        b"POST /?query=INSERT%20INTO%20scores_raw.quarantine%20FORMAT%20LineAsString HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n"
    )
    before = _state(served)
    # a negative length, a negative or non-hex chunk size: refused, nothing read to the end
    assert b" 400 " in _raw(served, head + _auth() + b"Content-Length: -1\r\n\r\n" + b"x\n" * 1000)[:20]
    assert (
        b" 400 "
        in _raw(served, head + _auth() + b"Transfer-Encoding: chunked\r\n\r\n-1\r\n" + b"x\n" * 1000)[:20]
    )
    assert b" 400 " in _raw(served, head + _auth() + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")[:20]
    assert (
        b" 400 "
        in _raw(served, head + _auth() + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc")[:20]
    )
    # chunks adding up past the limit (1 MiB for a reader's query)
    big = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
    reply = _raw(
        served,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + _auth("bi", "bi-secret")
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + big * 2,
    )
    assert b" 413 " in reply[:20]
    assert _state(served) == before


def test_unauthenticated_bodies_are_not_read(served: Served) -> None:
    before = served.rss_bytes()
    started = time.monotonic()
    for _ in range(4):
        reply = _raw(
            served, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500000000\r\n\r\n" + b"x" * 65536
        )
        assert b" 401 " in reply[:20]
    assert time.monotonic() - started < 10
    assert served.rss_bytes() - before < 100 << 20


def test_silent_clients_are_dropped(served: Served) -> None:
    """A client that never sends its body loses its connection after the socket timeout (2 s)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=20) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + _auth("bi", "bi-secret")
            + b"Content-Length: 100\r\n\r\nSEL"
        )
        started = time.monotonic()
        reply = s.recv(65536)
        while reply and not reply.endswith(b"\n"):
            reply += s.recv(65536)
        assert time.monotonic() - started < 15
    assert served.alive()


def test_queries_can_be_killed_and_stop_when_the_client_leaves(served: Served) -> None:
    slow = "SELECT count() FROM numbers(100000000000000) WHERE sleepEachRow(0) = 0"
    outcome: list[str] = []

    def run() -> None:
        outcome.append(served.request(slow, "bi", params={"query_id": "kill-me"}, timeout=30).text)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    # another reader may not kill it; its own user may
    other_users = {"bi2": {"password": "x", "role": "readonly"}}
    del other_users
    reply = served.request("KILL QUERY WHERE query_id = 'kill-me' SYNC", "bi")
    assert reply.status == 200, reply.text
    assert "kill-me" in reply.text
    worker.join(10)
    assert not worker.is_alive()
    assert outcome
    assert "QUERY_WAS_CANCELLED" in outcome[0], outcome
    # a client that goes away: its query is cancelled, so the same id is free again at once
    with socket.create_connection(("127.0.0.1", served.port)) as s:
        body = slow.encode()
        s.sendall(
            b"POST /?query_id=left HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + _auth("bi", "bi-secret")
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.5)
    time.sleep(1.0)
    assert served.ok("SELECT 1", "bi", params={"query_id": "left"}) == "1\n"


def test_header_injection_and_hostile_headers(served: Served) -> None:
    for who in (None, "bi"):
        reply = served.request("SELECT 1", who, params={"query_id": "a\r\nSet-Cookie: x=1"})
        assert reply.status == 400
        assert "set-cookie" not in reply.headers
    reply = served.request("SELECT 1", "bi", headers={"Host": "evil.example"})
    assert reply.status == 421
    reply = served.request("SELECT 1", "bi", headers={"Origin": "http://evil.example"})
    assert reply.status == 403
    assert served.request("SELECT 1", "bi", headers={"Host": "localhost:8123"}).status == 200


def test_writes_over_get_are_refused(served: Served) -> None:
    before = _state(served)
    reply = served.request(None, "loader", params={"query": "DROP TABLE scores.sentinel"}, method="GET")
    assert reply.status == 403
    reply = served.request(
        None, "loader", params={"query": "SELECT count() FROM scores.sentinel"}, method="GET"
    )
    assert reply.text == "2\n"
    assert _state(served) == before


def test_settings_do_not_bleed_between_requests_or_users(served: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        default = served.ok("SELECT getSetting('max_threads')", "loader", connection=connection)
        assert served.request("SET max_threads = 1", "bi", connection=connection).status in (200, 403)
        assert served.ok("SET max_threads = 1", "loader", connection=connection) == ""
        assert served.ok("SELECT getSetting('max_threads')", "loader", connection=connection) == default
        assert served.ok("SELECT getSetting('readonly')", "loader", connection=connection) == "0\n"
        assert served.ok("SELECT getSetting('readonly')", "bi", connection=connection) == "1\n"
        assert served.ok("SELECT getSetting('max_threads')", "bi", params={"max_threads": "1"}) == "1\n"
        assert served.ok("SELECT getSetting('max_threads')", "bi") == default
    finally:
        connection.close()
    # a session keeps its settings, and only its own user may use it
    session = {"session_id": "mine"}
    served.ok("SET max_threads = 1", "loader", params=session)
    assert served.ok("SELECT getSetting('max_threads')", "loader", params=session) == "1\n"
    assert served.request("SELECT 1", "bi", params=session).status == 403


def test_many_connections_do_not_leak_memory(served: Served) -> None:
    for _ in range(50):  # warm up the pools
        served.ok("SELECT 1", "bi")
    before = served.rss_bytes()
    for _ in range(1000):
        served.ok("SELECT 1", "bi")
    assert served.rss_bytes() - before < 40 << 20


def test_errors_name_no_host_paths(served: Served) -> None:
    reply = served.request("SELECT * FROM scores.no_such_table", "bi")
    assert reply.status == 404
    text = reply.text
    assert str(served.data_dir) not in text
    assert "Traceback" not in text
    assert "SETTINGS readonly" not in text
    assert text.startswith("Code: 60. DB::Exception:")
    assert reply.headers["x-clickhouse-exception-code"] == "60"
    bad = served.request("SELEC 1", "bi")
    assert bad.status == 400
    assert bad.text.startswith("Code: 62.")
    assert "parseQueryToJSON" not in bad.text


def test_default_configuration_requires_credentials(tmp_path: Path) -> None:
    """No users configured: a users file with random passwords is generated; nothing is open."""
    with serving(tmp_path, env={"SCORES_SERVE_USERS_FILE": ""}, users=None) as server:
        generated = Path(str(server.data_dir) + ".serve") / "users.json"
        assert generated.exists()
        assert generated.stat().st_mode & 0o077 == 0
        users = json.loads(generated.read_text())
        assert {u["role"] for u in users.values()} == {"readonly", "readwrite"}
        assert server.request("SELECT 1", None).status == 401
        assert (
            server.request(None, None, params={"query": "DROP DATABASE system"}, method="GET").status == 401
        )
        reader = next(name for name, u in users.items() if u["role"] == "readonly")
        assert server.request("SELECT 1", reader, password=users[reader]["password"]).text == "1\n"
        assert "generated users" in server.log.read_text()
