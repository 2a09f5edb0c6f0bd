"""Queries per second through `scores serve` with concurrent clients (classroom lookups).

    python -m benchmarks.endpoint_qps --rows 1000000 --clients 8 --seconds 20

Two ways to ask for a classroom, each measured in turn: the SQL a BI tool writes against the
mart agg_classroom_scores ("mart"), and one dictGet on the serving dictionary
dict_classroom_report ("lookup").

Generates and builds a warehouse (or reuses --data-dir), starts the endpoint, then runs N
clickhouse-connect clients (separate processes, so the clients' own Python does
not share one GIL), each looking up random classrooms (school_year, teacher_id, test_id)
in agg_classroom_scores. Reports QPS and latency percentiles; writes
benchmarks/results/endpoint_qps.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect

from api import reports
from benchmarks.host import BIN, RESULTS, ROOT, free_port
from benchmarks.ours import project_env

USER, PASSWORD = "bench", "bench-secret"  # a reader of the endpoint started here

CLASSROOM_QUERY = (
    "SELECT teacher_name, student_count, avg_score, median_score, excellent_count, "
    "good_count, fair_count, needs_improvement_count FROM scores.agg_classroom_scores "
    "WHERE school_year = {school_year:UInt16} AND teacher_id = {teacher_id:String} "
    "AND test_id = {test_id:String}"
)
# the report API's own lookup of a classroom (api/reports.py), with the same parameters
QUERIES = {"mart": CLASSROOM_QUERY, "lookup": reports.queries("scores")[reports.CLASSROOM].sql}


def _client_loop(job: tuple[int, Sequence[Sequence[Any]], int, float, str]) -> list[float]:
    """One client process: random classroom lookups until the deadline; returns latencies."""
    port, keys, seed, deadline, query = job
    client = clickhouse_connect.get_client(
        host="127.0.0.1", port=port, username=USER, password=PASSWORD, compress=False
    )
    rng = random.Random(seed)
    latencies = []
    while time.time() < deadline:
        year, teacher, test = rng.choice(keys)
        started = time.perf_counter()
        client.query(query, parameters={"school_year": year, "teacher_id": teacher, "test_id": test})
        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--data-dir", type=Path, help="reuse a built warehouse (its chdb directory)")
    args = parser.parse_args()
    if args.data_dir:
        env = {**os.environ, "DBT_PROFILES_DIR": str(ROOT / "profiles"), "SCORES_TARGET": "dev"}
        env["SCORES_CHDB_PATH"] = str(args.data_dir)
    else:
        env = project_env(Path(tempfile.mkdtemp(prefix="bench-qps-")))
        subprocess.run(
            [str(BIN / "scores"), "generate", "--rows", str(args.rows), "-q"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [str(BIN / "dbt"), "build", "--quiet", "--exclude", "test_type:data"],
            cwd=ROOT,
            env=env,
            check=True,
        )
    port = free_port()
    env["SCORES_SERVE_USERS"] = f"{USER}:{PASSWORD}:readonly"  # the endpoint admits no anonymous user
    server = subprocess.Popen(
        [str(BIN / "scores"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert server.stdout is not None
    try:
        server.stdout.readline()  # "serving ..."
        admin = clickhouse_connect.get_client(host="127.0.0.1", port=port, username=USER, password=PASSWORD)
        keys = admin.query(
            "SELECT school_year, teacher_id, test_id FROM scores.agg_classroom_scores "
            "ORDER BY rand() LIMIT 2000"
        ).result_rows
        report: dict[str, object] = {
            "rows": args.rows,
            "clients": args.clients,
            "seconds": args.seconds,
            "machine": f"{os.cpu_count()} cores",
        }
        for name, query in QUERIES.items():
            deadline = time.time() + args.seconds  # wall clock: shared by the client processes
            jobs = [(port, keys, seed, deadline, query) for seed in range(args.clients)]
            with multiprocessing.get_context("fork").Pool(args.clients) as pool:
                latencies = sorted(value for chunk in pool.map(_client_loop, jobs) for value in chunk)
            report[name] = {
                "queries": len(latencies),
                "qps": round(len(latencies) / args.seconds, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
            }
        out = RESULTS / "endpoint_qps.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
