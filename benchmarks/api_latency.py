"""The report API backed by this project against the same API code backed by PostgreSQL 15.

    python -m benchmarks.api_latency --rows 1000000

One run, side by side:
  * project: `scores serve --api-port` on a warehouse built from the generated rows. Answers come
    from the build-versioned cache (api/cache.py), or one lookup in the serving layer;
  * postgres: the same FastAPI app (api/app.py, the same routes, auth and JSON) served by uvicorn
    in its own process, its answers the design's SQL on the design's indexed materialized views (psycopg, a
    connection per worker thread). PostgreSQL has no build id to version answers by, so nothing
    is cached: every request queries.

Keys are sampled from the marts: classroom reports (Query 1), school by grade (Query 2) and
students in context (Query 4). Each phase gives every key once per client, clients alternating
between the two APIs, at 1 and at 16 concurrent clients:
  * after a build: the first requests after the project switched to a new build (its warmed keys
    answer from memory, the others look up), and after PostgreSQL's REFRESH MATERIALIZED VIEW;
  * warm: the same keys again.
Also the project's in-process warm lookup (Reports.answer, no HTTP), in microseconds.
Prints a Markdown table and writes benchmarks/results/api_latency-<rows>.json and .md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from api import reports
from api.cache import Generation
from api.service import NotFoundError, Viewer
from benchmarks.data import make_files
from benchmarks.design import design_sql
from benchmarks.extra import require
from benchmarks.host import BIN, RESULTS, ROOT, free_port
from benchmarks.ours import project_env
from benchmarks.peers.postgres import PG_VIEWS, Postgres, build_design, load_facts, vacuum

PASSWORD = "bench-pw"
ROUTES = {
    reports.CLASSROOM: "/v1/classrooms/{y}/{k}/{t}",
    reports.SCHOOL_GRADES: "/v1/schools/{y}/{k}/{t}/grades",
    reports.STUDENTS: "/v1/classrooms/{y}/{k}/{t}/students",
}
POSTGRES_SQL = {
    reports.CLASSROOM: "classroom",
    reports.SCHOOL_GRADES: "school_by_grade",
    reports.STUDENTS: "student_in_context",
}


class PostgresReports:
    """The report service's interface (api/service.py, Reports) on PostgreSQL, for the twin API."""

    def __init__(self, dsn: dict[str, Any]) -> None:
        self._dsn = dsn
        self._local = threading.local()
        self.generation = Generation("postgres", 0)
        self.changing = False
        self._sql = {report: design_sql(name, "pg") for report, name in POSTGRES_SQL.items()}

    def _conn(self) -> Any:
        import psycopg

        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = psycopg.connect(**self._dsn, autocommit=True)
            self._local.conn = conn
        return conn

    def roster_entry(self, name: str) -> None:
        return None

    def answer(self, viewer: Viewer, report: str, key: tuple[Any, ...]) -> tuple[bytes, str]:
        sql, order = self._sql[report]
        values = dict(zip(("y", "k", "t"), key, strict=True))
        cursor = self._conn().execute(
            f"select coalesce(json_agg(r), '[]') from ({sql}) as r", [values[p] for p in order]
        )
        rows = cursor.fetchone()[0]
        if not rows:
            raise NotFoundError(f"no {report} for {key}")
        body = {"build": "postgres", "key": list(key), "rows": rows}
        return json.dumps(body, separators=(",", ":"), default=str).encode(), "postgres"

    def my_classrooms(self, viewer: Viewer) -> tuple[bytes, str]:
        raise NotFoundError("not benchmarked")


def serve_postgres_api(dsn: dict[str, Any], port: int) -> None:
    """The twin API, in this process (run as its own process: --serve-postgres)."""
    import uvicorn

    from api.app import create_app
    from endpoint.users import User, Users

    users = Users([User.with_password("bench", PASSWORD, "readonly")])
    app = create_app(PostgresReports(dsn), users)  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def sample_keys(client: Any, n: int) -> list[tuple[str, tuple[Any, ...]]]:
    keys: list[tuple[str, tuple[Any, ...]]] = []
    for report, sql in (
        (reports.CLASSROOM, "SELECT school_year, teacher_id, test_id FROM scores.rpt_classroom_scores"),
        (reports.STUDENTS, "SELECT school_year, teacher_id, test_id FROM scores.rpt_classroom_scores"),
        (
            reports.SCHOOL_GRADES,
            "SELECT DISTINCT school_year, school_id, test_id FROM scores.rpt_school_grade_scores",
        ),
    ):
        rows = client.query(f"{sql} ORDER BY cityHash64(*) LIMIT {n}").result_rows
        keys += [(report, (int(r[0]), str(r[1]), str(r[2]))) for r in rows]
    return keys


def measure(
    url: str, auth: tuple[str, str], keys: list[tuple[str, tuple[Any, ...]]], clients: int
) -> dict[str, Any]:
    """Every key once per client, `clients` at a time; latency per request in ms."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        order = keys[:]
        random.Random(seed).shuffle(order)
        mine = []
        with requests.Session() as http:
            for report, (y, k, t) in order:
                started = time.perf_counter()
                reply = http.get(url + ROUTES[report].format(y=y, k=k, t=t), auth=auth, timeout=60)
                mine.append((time.perf_counter() - started) * 1000)
                if reply.status_code != 200:
                    raise RuntimeError(f"{url}: {reply.status_code} {reply.text[:200]}")
        with lock:
            latencies.extend(mine)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=100, help="keys per report")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--serve-postgres", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_postgres:
        serve_postgres_api(json.loads(args.dsn), args.serve_postgres)
        return
    require("psycopg")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="api-latency-"))
    env = project_env(work)
    info = make_files(work, args.rows, env)
    print(f"rows: {info['rows']}; loading and building the project", flush=True)
    subprocess.run(
        [str(BIN / "scores"), "load", str(work / "base.parquet"), "-q"], env=env, check=True, cwd=ROOT
    )
    subprocess.run([str(BIN / "dbt"), "build", "--quiet"], env=env, check=True, cwd=ROOT)

    print("postgres: load and materialized views", flush=True)
    pg = Postgres(work / "postgres")
    pg.start()
    try:
        conn = pg.connect()
        load_facts(conn, work / "base.parquet")
        build_design(conn)
        vacuum(conn)
        dsn = {"host": "127.0.0.1", "port": pg.port, "user": "postgres", "dbname": "postgres"}
        pg_port = free_port()
        # its own process, as the project's API is (scores serve): neither shares the clients' GIL
        twin = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.api_latency",
                "--serve-postgres",
                str(pg_port),
                "--dsn",
                json.dumps(dsn),
            ],
            cwd=ROOT,
        )
        pg_url = f"http://127.0.0.1:{pg_port}"
        wait_http(pg_url + "/openapi.json")

        users = work / "users.json"
        users.write_text(
            json.dumps(
                {
                    "bench": {"password": PASSWORD, "role": "readonly"},
                    "loader": {"password": PASSWORD, "role": "readwrite"},
                }
            )
        )
        api_port, sql_port = free_port(), free_port()
        served = subprocess.Popen(
            [str(BIN / "scores"), "serve", "--port", str(sql_port), "--api-port", str(api_port)],
            env={**env, "SCORES_SERVE_USERS_FILE": str(users)},
            cwd=ROOT,
        )
        through = {
            **env,
            "SCORES_TARGET": "server",
            "CLICKHOUSE_HOST": "127.0.0.1",
            "CLICKHOUSE_PORT": str(sql_port),
            "CLICKHOUSE_USER": "loader",
            "CLICKHOUSE_PASSWORD": PASSWORD,
        }
        try:
            project_url = f"http://127.0.0.1:{api_port}"
            wait_http(project_url + "/openapi.json")
            import clickhouse_connect

            client = clickhouse_connect.get_client(
                host="127.0.0.1", port=sql_port, username="bench", password=PASSWORD
            )
            keys = sample_keys(client, args.keys)
            auth = ("bench", PASSWORD)
            results: dict[str, Any] = {"rows": args.rows, "keys": len(keys), "phases": {}}
            measure(project_url, auth, keys, 1)  # every key asked once of the first build
            delta = max(args.rows // 100, 100)
            for step, clients in enumerate((1, 16)):
                # "after a build": 1% new scores built through the endpoint; the API switches to the
                # new build (warming the keys asked of the old one); PostgreSQL refreshes its views
                before = requests.get(project_url + "/v1/build", auth=auth, timeout=10).json()["build"]
                start = args.rows + step * delta
                subprocess.run(
                    [
                        str(BIN / "scores"),
                        "generate",
                        "--rows",
                        str(start + delta),
                        "--skip",
                        str(start),
                        "-q",
                    ],
                    env=through,
                    check=True,
                    cwd=ROOT,
                )
                subprocess.run([str(BIN / "dbt"), "build", "--quiet"], env=through, check=True, cwd=ROOT)
                while (
                    requests.get(project_url + "/v1/build", auth=auth, timeout=10).json()["build"] == before
                ):
                    time.sleep(0.05)
                for name in PG_VIEWS:
                    conn.execute(f"refresh materialized view {name}")
                results["phases"][f"after_build_{clients}"] = {
                    "project": measure(project_url, auth, keys, clients),
                    "postgres": measure(pg_url, auth, keys, clients),
                }
                results["phases"][f"warm_{clients}"] = {
                    "project": measure(project_url, auth, keys, clients),
                    "postgres": measure(pg_url, auth, keys, clients),
                }
                print(json.dumps(results["phases"], indent=1), flush=True)
        finally:
            served.terminate()
            served.wait(timeout=30)
            twin.terminate()
            twin.wait(timeout=30)
    finally:
        pg.stop()
    results["in_process_warm_us"] = in_process(work, keys)
    out = RESULTS / f"api_latency-{args.rows}"
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


def in_process(work: Path, keys: list[tuple[str, tuple[Any, ...]]]) -> dict[str, float]:
    """Reports.answer on a warm cache in this process (no HTTP): microseconds per call."""
    from api.service import ChdbEngine, Reports
    from engine.embedded import open_embedded_client, open_engine_connection

    path = str(work / "chdb")
    open_embedded_client(path)
    service = Reports(ChdbEngine(lambda: open_engine_connection(path)), "scores", "scores", "scores_raw")
    viewer = Viewer("bench", "engineer")
    found = []
    for report, key in keys:
        with contextlib.suppress(NotFoundError):
            service.answer(viewer, report, key)
            found.append((report, key))
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        for report, key in found:
            service.answer(viewer, report, key)
        timings.append((time.perf_counter() - started) / len(found) * 1e6)
    return {"p50_us": round(statistics.median(timings), 2), "best_us": round(min(timings), 2)}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"`api_latency.py --rows {results['rows']}`: the report API, {results['keys']} keys "
        "(Q1 classroom, Q2 school by grade, Q4 students in context), over HTTP",
        "",
        "| phase | clients | project p50 ms | project p95 ms | PostgreSQL p50 ms | PostgreSQL p95 ms "
        "| p50 ratio | p95 ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, phase in results["phases"].items():
        kind, clients = name.rsplit("_", 1)
        ours, theirs = phase["project"], phase["postgres"]
        p50 = ours["p50_ms"] / theirs["p50_ms"]
        p95 = ours["p95_ms"] / theirs["p95_ms"]
        lines.append(
            f"| {kind.replace('_', ' ')} | {clients} | {ours['p50_ms']} | {ours['p95_ms']} | "
            f"{theirs['p50_ms']} | {theirs['p95_ms']} | {p50:.2f} | {p95:.2f} |"
        )
    warm = results.get("in_process_warm_us", {})
    lines += ["", f"In-process warm lookup (Reports.answer, no HTTP): {warm.get('p50_us')} µs p50."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("SCORES_MIN_GROUP_SIZE", "10")
    main()
