"""The project (dbt on embedded ClickHouse) side by side with PostgreSQL 15 and DuckDB, same data.

    python -m benchmarks.compare --rows 10000000        # standard run (1M: --rows 1000000)
    python -m benchmarks.compare --rows 100000000 --engines project,duckdb --work-dir DIR --keep
                                                        # 100M: PostgreSQL needs ~40 GB of disk

Needs the `bench` extra (scripts/bootstrap.sh installs it) and the PostgreSQL 15 binaries
(/usr/lib/postgresql/15/bin or PG_BIN). Steps, each timed:

1. `scores generate --rows N --out base.parquet`, and a 1% delta file: half new scores (the
   generator's rows after the first N: new schools), half corrections (existing keys re-scored,
   spread at random over every school and test) (benchmarks/data.py).
2. Project: `scores load base.parquet` (validation included) into a fresh chDB directory, full
   `dbt build`, `scores load delta.parquet`, incremental `dbt build` (benchmarks/ours.py).
3. DuckDB: the design's fact table sorted by its ORDER BY and the design's three aggregates as
   tables; the delta is applied with delete + insert and the aggregates are recomputed
   (benchmarks/peers/duckdb.py).
4. PostgreSQL 15 (initdb + pg_ctl on 127.0.0.1, a free port, in the work directory): COPY, the
   design's indexes and materialized views (with indexes); the delta is an upsert
   (INSERT ... ON CONFLICT) followed by REFRESH MATERIALIZED VIEW (benchmarks/peers/postgres.py).
5. Queries, single client, bound parameters sampled from real keys (>= --keys per class after a
   warm-up on other keys), engines alternating per key: the design's four queries (classroom,
   school by grade, state-level district comparison, student in context) and the district
   comparison computed from the fact table. The project answers Q1-Q4 with one key lookup each
   in its serving layer (models/serving; keys bound client-side, as clickhouse-connect binds
   `%(name)s` parameters) and the raw-fact question with SQL on the fact table; PostgreSQL and
   DuckDB run the design's SQL on their aggregates. Answers are cross-checked between engines
   (benchmarks/queries.py).

Writes benchmarks/results/compare-<rows>.json and .md and docs/img/benchmark-<rows>.png
(benchmarks/report.py). Peak memory is the peak RSS of the loader/dbt/DuckDB worker process
(getrusage of children) and, for PostgreSQL, the peak summed PSS of all its server processes
(sampled from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.data import make_files
from benchmarks.extra import require
from benchmarks.host import IMAGES, RESULTS, machine
from benchmarks.ours import COMPARISON_SETTINGS, project_disk, project_env, run_project, settle_merges
from benchmarks.peers.duckdb import run_duckdb
from benchmarks.peers.postgres import Postgres, run_postgres
from benchmarks.queries import Runner, client_overhead, run_queries, sample_keys
from benchmarks.report import ENGINES, markdown, plot

# disk one row takes in each engine at 10M rows (everything on disk), for the pre-flight check
DISK_BYTES_PER_ROW = {"project": 100, "postgres": 400, "duckdb": 30}
# the Python package each peer is driven through (the `bench` extra)
PEER_MODULES = {"postgres": "psycopg", "duckdb": "duckdb"}


def check_disk(work: Path, rows: int, engines: Sequence[str]) -> None:
    """Stop before generating anything when the engines' data cannot fit the work directory's disk."""
    parquet = rows * 11  # base file and delta
    need = parquet + sum(DISK_BYTES_PER_ROW[e] * rows for e in engines)
    free = shutil.disk_usage(work).free
    if need > free:
        gib = 2**30
        per_engine = ", ".join(f"{e} {DISK_BYTES_PER_ROW[e] * rows / gib:,.0f}" for e in engines)
        sys.exit(
            f"benchmarks.compare: {rows:,} rows need about {need / gib:,.0f} GiB of disk ({per_engine}, "
            f"files {parquet / gib:,.0f}) and {work} has {free / gib:,.0f} GiB free. "
            "Leave an engine out with --engines (e.g. --engines project,duckdb) or pass --work-dir "
            "on a bigger disk."
        )


@contextlib.contextmanager
def work_directory(path: Path | None, keep: bool) -> Iterator[Path]:
    work = path or Path(tempfile.mkdtemp(prefix="bench-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # the PostgreSQL server runs as user postgres and needs to enter it
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (10000000 standard)")
    parser.add_argument("--keys", type=int, default=60, help="measured keys per query class (>= 50)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up keys per query class")
    parser.add_argument("--work-dir", type=Path, help="work directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (chDB, PG, DuckDB)")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated engines to run, project always included (default: %(default)s); "
        "100M rows: project,duckdb (PostgreSQL needs about 40 GB of disk there)",
    )
    args = parser.parse_args()
    requested = set(args.engines.split(","))
    chosen = tuple(e for e in ENGINES if e == "project" or e in requested)
    unknown = requested - set(ENGINES)
    if unknown:
        parser.error(f"--engines: unknown {', '.join(sorted(unknown))} (choose from {', '.join(ENGINES)})")
    require("matplotlib", *(module for engine, module in PEER_MODULES.items() if engine in chosen))
    random.seed(1)
    report: dict[str, Any] = {
        "rows": args.rows,
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
    }
    with work_directory(args.work_dir, args.keep) as work:
        check_disk(work, args.rows, chosen)
        env = project_env(work, **COMPARISON_SETTINGS)
        print(f"work directory {work}; generating {args.rows:,} rows", flush=True)
        files = make_files(work, args.rows, env)
        report["files"] = files
        engines: dict[str, Any] = {"project": run_project(work, args.rows, files["delta_rows"])}
        if "duckdb" in chosen:
            engines["duckdb"] = run_duckdb(work, args.rows, files["delta_rows"])
        pg = Postgres(work / "pg") if "postgres" in chosen else None
        try:
            if pg is not None:
                pg.start()
                engines["postgres"] = run_postgres(pg, work, args.rows, files["delta_rows"])
            # every build is done: only now may this process open the chDB directory
            from engine.embedded import open_embedded_client, open_engine_connection

            open_embedded_client(work / "chdb")
            chdb_conn = open_engine_connection(work / "chdb")
            engines["project"]["settle_seconds"] = settle_merges(chdb_conn)
            engines["project"]["disk"] = project_disk(chdb_conn, work / "chdb")
            for engine in chosen:
                engines[engine]["compression_ratio"] = round(
                    files["logical_bytes"] / engines[engine]["disk"]["fact_bytes"], 2
                )
            report["engines"] = {e: engines[e] for e in chosen}
            report["skipped"] = {
                e: f"left out with --engines {','.join(chosen)}" for e in ENGINES if e not in chosen
            }
            duck_conn = pg_conn = None
            if "duckdb" in chosen:
                import duckdb

                duck_conn = duckdb.connect(str(work / "duck.db"), read_only=True)
            if pg is not None:
                pg_conn = pg.connect()
            keys = sample_keys(chdb_conn, args.keys, args.warmup)
            runner = Runner(chdb_conn, pg_conn, duck_conn)
            report["queries"] = run_queries(runner, keys, args.warmup, chosen)
            report["chdb_clients"] = client_overhead(work / "chdb", keys["classroom"])
            for conn in (pg_conn, duck_conn):
                if conn is not None:
                    conn.close()
        finally:
            if pg is not None:
                pg.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"compare-{args.rows}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(report))
    plot(report, IMAGES / f"benchmark-{args.rows}.png")
    print((RESULTS / f"{stem}.md").read_text())


if __name__ == "__main__":
    main()
