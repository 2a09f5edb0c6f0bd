"""The project (dbt on embedded ClickHouse) side by side with PostgreSQL 15 and DuckDB, same data.

    python benchmarks/compare.py --rows 10000000        # standard run (1M: --rows 1000000)
    python benchmarks/compare.py --rows 100000000 --engines project,duckdb --work-dir DIR --keep
                                                        # 100M: PostgreSQL needs ~40 GB of disk

Installs benchmarks/requirements.txt into the current venv if a package is missing. Needs the
PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin or PG_BIN). Steps, each timed:

1. `scores generate --rows N --out base.parquet`, and a 1% delta file: half new scores (the
   generator's rows after the first N: new schools), half corrections (existing keys re-scored,
   spread at random over every school and test).
2. Project: `scores load base.parquet` (validation included) into a fresh chDB directory, full
   `dbt build`, `scores load delta.parquet`, incremental `dbt build`.
3. DuckDB: the design's fact table sorted by its ORDER BY and the design's three aggregates as
   tables; the delta is applied with delete + insert and the aggregates are recomputed.
4. PostgreSQL 15 (initdb + pg_ctl on 127.0.0.1, a free port, in the work directory): COPY, the
   design's indexes and materialized views (with indexes); the delta is an upsert
   (INSERT ... ON CONFLICT) followed by REFRESH MATERIALIZED VIEW.
5. Queries, single client, bound parameters sampled from real keys (>= --keys per class after a
   warm-up on other keys), engines alternating per key: the design's four queries (classroom,
   school by grade, state-level district comparison, student in context) and the district
   comparison computed from the fact table. The project answers Q1-Q4 with one key lookup each
   in its serving layer (models/serving; keys bound client-side, as clickhouse-connect binds
   `%(name)s` parameters) and the raw-fact question with SQL on the fact table; PostgreSQL and
   DuckDB run the design's SQL on their aggregates. Answers are cross-checked between engines.

Writes benchmarks/results/compare-<rows>.json and .md and docs/img/benchmark-<rows>.png.
Peak memory is the peak RSS of the loader/dbt/DuckDB worker process (getrusage of children) and,
for PostgreSQL, the peak summed PSS of all its server processes (sampled from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "benchmarks" / "results"
IMAGES = ROOT / "docs" / "img"
REQUIREMENTS = ROOT / "benchmarks" / "requirements.txt"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
ENGINES = ("project", "postgres", "duckdb")
# disk one row takes in each engine at 10M rows (everything, the 2026-11-27 run), for the pre-flight check
DISK_BYTES_PER_ROW = {"project": 100, "postgres": 400, "duckdb": 30}
ENGINE_LABELS = {"project": "project (chDB + dbt)", "postgres": "PostgreSQL 15", "duckdb": "DuckDB"}
INPUT_COLUMNS = (
    "student_id, teacher_id, teacher_name, school_id, school_name, district_id, district_name, "
    "state_id, subject, grade, test_id, school_year, test_date, overall_score, "
    "overall_performance_level, dimension_scores"
)
DESIGN_ORDER = "school_year, district_id, school_id, teacher_id, test_id, student_id"


def ensure_requirements() -> None:
    """pip install -r benchmarks/requirements.txt into this interpreter's environment if needed."""
    missing = []
    for module in ("duckdb", "psycopg", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        print(f"installing {', '.join(missing)} from {REQUIREMENTS.relative_to(ROOT)}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
            check=True,
        )


# --------------------------------------------------------------------------------------------
# measuring steps


@dataclass
class Step:
    seconds: float
    peak_mib: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds": round(self.seconds, 2)}
        if self.peak_mib is not None:
            out["peak_mib"] = round(self.peak_mib)
        return out | self.extra


# Runs a command as its only child and prints wall seconds and the child's peak RSS (KiB).
_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


def run_measured(command: Sequence[str], env: dict[str, str]) -> Step:
    """Run a command; wall time and its peak resident memory (the wrapper's RUSAGE_CHILDREN)."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, peak_kib, code = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"{' '.join(command)} exited with {code}: {out.stderr[-2000:]}")
    return Step(float(seconds), int(peak_kib) / 1024)


class PssSampler:
    """Peak summed PSS of a process tree (PostgreSQL's postmaster and its backends)."""

    def __init__(self, root_pid: int, interval: float = 0.2) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        pids = [self.root_pid]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.root_pid:
                pids.append(int(entry.name))
        return pids

    def _pss_kib(self, pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, sum(self._pss_kib(p) for p in self._tree()))
            self._stop.wait(self.interval)

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


def du_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --------------------------------------------------------------------------------------------
# data files


def make_files(work: Path, rows: int, env: dict[str, str]) -> dict[str, Any]:
    """Generate the base file and the 1% delta: half new scores, half corrections of existing keys.

    New scores are the generator's rows after the first N (`--rows N+k --skip N`: new schools).
    Another `--seed` is not used for them: it builds another world (other grade spans and other
    districts for the same school ids), so its rows would move existing schools between districts.
    Corrections are existing scores picked at random over every school and test, re-scored
    (+-15 points) with the performance level recomputed from the cut scores.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from loaders.reference import load_reference
    from loaders.schema import INPUT_SCHEMA

    scores = str(BIN / "scores")
    base, new, delta = work / "base.parquet", work / "delta-new.parquet", work / "delta.parquet"
    made = work / "files.json"  # a kept --work-dir reuses its files (100M rows take minutes to make)
    if made.exists() and base.exists() and delta.exists():
        info: dict[str, Any] = json.loads(made.read_text())
        if info.get("rows") == rows:
            print(f"reusing {base} and {delta}", flush=True)
            return info
    info = {}
    step = run_measured([scores, "generate", "--rows", str(rows), "--out", str(base), "-q"], env)
    info["generate_seconds"] = round(step.seconds, 2)
    n_delta = max(rows // 100, 2)
    n_new = n_delta // 2
    run_measured(
        [scores, "generate", "--rows", str(rows + n_new), "--skip", str(rows), "--out", str(new), "-q"], env
    )
    source = pq.ParquetFile(base)
    rng = np.random.default_rng(7)
    picks = np.sort(rng.choice(rows, size=n_delta - n_new, replace=False))
    parts, offset = [], 0
    for batch in source.iter_batches(batch_size=500_000):
        local = picks[(picks >= offset) & (picks < offset + batch.num_rows)] - offset
        if len(local):
            parts.append(pa.Table.from_batches([batch]).take(pa.array(local)))
        offset += batch.num_rows
    corrections = pa.concat_tables(parts)
    old = corrections.column("overall_score").to_numpy().astype(np.int64)
    rescored = np.clip(old + rng.integers(-15, 16, len(picks)), 0, 100)
    reference = load_reference()
    subjects = corrections.column("subject").to_pylist()
    levels = [reference.level_for(s, int(v)) for s, v in zip(subjects, rescored, strict=True)]
    corrections = corrections.set_column(
        corrections.schema.get_field_index("overall_score"),
        "overall_score",
        pa.array(rescored.astype(np.uint8)),
    )
    corrections = corrections.set_column(
        corrections.schema.get_field_index("overall_performance_level"),
        "overall_performance_level",
        pa.array(levels, type=pa.uint8()),
    )
    table = pa.concat_tables([pq.read_table(new).cast(INPUT_SCHEMA), corrections.cast(INPUT_SCHEMA)])
    pq.write_table(table, delta)
    new.unlink()
    logical = sum(b.nbytes for b in source.iter_batches(batch_size=500_000))
    info |= {
        "rows": rows,
        "delta_rows": table.num_rows,
        "delta_new_rows": n_new,
        "delta_correction_rows": len(picks),
        "parquet_bytes": base.stat().st_size,
        "logical_bytes": logical,
    }
    made.write_text(json.dumps(info))
    return info


# --------------------------------------------------------------------------------------------
# project: scores load + dbt build


def project_env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SCORES_CHDB_PATH": str(work / "chdb"),
        "DBT_PROFILES_DIR": str(ROOT / "profiles"),
        "DBT_TARGET_PATH": str(work / "target"),
        "SCORES_TARGET": "dev",
    }


def run_project(work: Path, rows: int, delta_rows: int) -> dict[str, Any]:
    env = project_env(work)
    scores, dbt = str(BIN / "scores"), str(BIN / "dbt")
    out: dict[str, Any] = {}
    # the base load and a full build, then the 1% delta and an incremental build
    for load, build, file, count in (
        ("load", "full_build", "base.parquet", rows),
        ("delta_load", "incremental_build", "delta.parquet", delta_rows),
    ):
        print(f"project: scores load ({file})", flush=True)
        step = run_measured([scores, "load", "-q", str(work / file)], env)
        out[load] = step.as_dict() | {"rows_per_second": round(count / step.seconds)}
        print(f"project: dbt build ({build})", flush=True)
        out[build] = run_measured([dbt, "build", "--quiet"], env).as_dict()
        out[build]["dbt"] = dbt_summary(work / "target")
    return out


def dbt_summary(target: Path) -> dict[str, Any]:
    results = json.loads((target / "run_results.json").read_text())
    models = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in results["results"]
        if r["unique_id"].startswith("model.")
    }
    tests = sum(r["execution_time"] for r in results["results"] if r["unique_id"].startswith("test."))
    return {
        "elapsed": round(results["elapsed_time"], 2),
        "tests_seconds_total": round(tests, 2),
        "models": models,
    }


# --------------------------------------------------------------------------------------------
# DuckDB: the design's table sorted by its ORDER BY, the design's aggregates as tables


def design_aggregates(engine: str) -> dict[str, str]:
    """The design's three aggregates in DuckDB's or PostgreSQL's SQL (DuckDB's sorted by key)."""
    duckdb = engine == "duckdb"

    def quantile(q: float) -> str:
        if duckdb:
            return f"quantile_cont(overall_score, {q})"
        return f"percentile_cont({q}) within group (order by overall_score)"

    real = "" if duckdb else "::float8"

    def order(columns: str) -> str:
        return f"\n        order by {columns}" if duckdb else ""

    return {
        "classroom_aggregates": f"""
        select school_year, teacher_id, school_id, district_id, test_id, subject,
            max(teacher_name) as teacher_name,
            count(*) as student_count,
            avg(overall_score){real} as avg_score,
            avg(overall_performance_level){real} as avg_performance_level,
            {quantile(0.5)} as median_score,
            min(overall_score) as min_score,
            max(overall_score) as max_score,
            count(*) filter (where overall_score >= 90) as excellent_count,
            count(*) filter (where overall_score >= 80 and overall_score < 90) as good_count,
            count(*) filter (where overall_score >= 70 and overall_score < 80) as fair_count,
            count(*) filter (where overall_score < 70) as needs_improvement_count
        from student_scores
        group by school_year, teacher_id, school_id, district_id, test_id, subject"""
        + order("school_year, teacher_id, test_id"),
        "school_aggregates": f"""
        select school_year, school_id, district_id, state_id, test_id, subject, grade,
            count(*) as student_count,
            avg(overall_score){real} as avg_score,
            avg(overall_performance_level){real} as avg_performance_level,
            {quantile(0.5)} as median_score,
            stddev_pop(overall_score){real} as score_std_dev
        from student_scores
        group by school_year, school_id, district_id, state_id, test_id, subject, grade"""
        + order("school_year, school_id, test_id"),
        "district_aggregates": f"""
        select school_year, district_id, state_id, test_id, subject, grade,
            count(*) as student_count,
            avg(overall_score){real} as avg_score,
            avg(overall_performance_level){real} as avg_performance_level,
            {quantile(0.5)} as median_score,
            {quantile(0.25)} as q1_score,
            {quantile(0.75)} as q3_score
        from student_scores
        group by school_year, district_id, state_id, test_id, subject, grade"""
        + order("school_year, district_id, test_id"),
    }


DUCK_AGGREGATES = design_aggregates("duckdb")


def duckdb_worker(step: str, db: Path, parquet: Path) -> dict[str, Any]:
    """One DuckDB step, run in its own process (so its peak memory is its own)."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(db))
    if step == "load":
        con.execute(
            f"create table student_scores as select {INPUT_COLUMNS}, "
            "now()::timestamp as created_at, now()::timestamp as updated_at "
            f"from read_parquet(?) order by {DESIGN_ORDER}",
            [str(parquet)],
        )
    elif step == "build":
        for name, sql in DUCK_AGGREGATES.items():
            con.execute(f"create or replace table {name} as {sql}")
    elif step == "delta_load":
        con.execute(
            f"create or replace table delta as select {INPUT_COLUMNS}, file_row_number as ord "
            "from read_parquet(?, file_row_number = true)",
            [str(parquet)],
        )
    elif step == "incremental_build":
        con.execute("begin")
        con.execute(
            "delete from student_scores as s using delta as d where s.school_year = d.school_year "
            "and s.test_id = d.test_id and s.student_id = d.student_id"
        )
        con.execute(
            f"insert into student_scores select {INPUT_COLUMNS}, now()::timestamp, now()::timestamp "
            "from delta qualify row_number() over "
            "(partition by school_year, test_id, student_id order by ord desc) = 1"
        )
        con.execute("drop table delta")
        con.execute("commit")
        for name, sql in DUCK_AGGREGATES.items():
            con.execute(f"create or replace table {name} as {sql}")
    else:
        raise ValueError(step)
    con.execute("checkpoint")
    con.close()
    return {"seconds": time.perf_counter() - started}


def run_duckdb(work: Path, rows: int, delta_rows: int) -> dict[str, Any]:
    db = work / "duck.db"
    out: dict[str, Any] = {}
    for step, parquet in (
        ("load", "base.parquet"),
        ("build", "base.parquet"),
        ("delta_load", "delta.parquet"),
        ("incremental_build", "delta.parquet"),
    ):
        print(f"duckdb: {step}", flush=True)
        # through the wrapper: the peak RSS of a fresh process (a forked child would inherit ours)
        step_result = run_measured(
            [
                sys.executable,
                __file__,
                "--duckdb-worker",
                step,
                "--work-dir",
                str(work),
                "--parquet",
                parquet,
            ],
            dict(os.environ),
        )
        measured = json.loads((work / "duckdb-step.json").read_text())
        out[step] = Step(measured["seconds"], step_result.peak_mib).as_dict()
    out["load"]["rows_per_second"] = round(rows / out["load"]["seconds"])
    out["delta_load"]["rows_per_second"] = round(delta_rows / out["delta_load"]["seconds"])
    out["full_build"] = out.pop("build")
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    block = con.execute("select block_size from pragma_database_size()").fetchone()
    block_size = int(block[0]) if block else 262144
    fact_blocks = con.execute(
        "select count(distinct block_id) from pragma_storage_info('student_scores') where persistent"
    ).fetchone()
    con.close()
    out["disk"] = {
        "total_bytes": db.stat().st_size,
        "fact_bytes": int(fact_blocks[0] if fact_blocks else 0) * block_size,
    }
    return out


# --------------------------------------------------------------------------------------------
# PostgreSQL 15: the design's schema, indexes and materialized views

PG_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
shared_buffers = '2GB'
work_mem = '64MB'
maintenance_work_mem = '1GB'
effective_cache_size = '8GB'
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
random_page_cost = 1.1
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
max_wal_size = '8GB'
checkpoint_timeout = '30min'
jit = off
"""

PG_TABLE = """
create table student_scores (
    score_id bigserial,
    student_id varchar(50) not null,
    teacher_id varchar(50) not null,
    school_id varchar(50) not null,
    district_id varchar(50) not null,
    state_id varchar(50) not null,
    test_id varchar(50) not null,
    school_year smallint not null,
    test_date timestamptz not null,
    subject varchar(50) not null,
    grade smallint not null,
    overall_score smallint not null,
    overall_performance_level smallint not null,
    dimension_scores jsonb,
    teacher_name varchar(200),
    school_name varchar(200),
    district_name varchar(200),
    created_at timestamptz default now(),
    updated_at timestamptz default now()
)
"""

PG_INDEXES = (
    "alter table student_scores add primary key (test_date, score_id)",
    # not in the design: the score key, needed for upserting corrections
    "create unique index student_scores_key on student_scores (school_year, test_id, student_id)",
    "create index idx_student_scores_teacher on student_scores (teacher_id, school_year, test_id)",
    "create index idx_student_scores_school on student_scores (school_id, school_year, test_id)",
    "create index idx_student_scores_district on student_scores (district_id, school_year)",
    "create index idx_dimension_scores on student_scores using gin (dimension_scores)",
    "analyze student_scores",
)

PG_VIEWS = design_aggregates("postgres")

PG_VIEW_INDEXES = (
    "create unique index on classroom_aggregates "
    "(school_year, teacher_id, test_id, school_id, district_id, subject)",
    "create unique index on school_aggregates "
    "(school_year, school_id, test_id, grade, district_id, state_id, subject)",
    "create unique index on district_aggregates "
    "(school_year, district_id, test_id, grade, state_id, subject)",
    "create index on district_aggregates (school_year, state_id)",
)

PG_UPSERT_COLUMNS = [c.strip() for c in INPUT_COLUMNS.split(",")]


class Postgres:
    """A throwaway PostgreSQL 15 cluster in a directory, on 127.0.0.1 and a free port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        subprocess.run(
            args,
            check=True,
            user=self.user,
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.directory, self.user, self.user)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(PG_CONF.format(port=self.port, socket_dir=self.directory))
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"),
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def connect(self, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=autocommit
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_copy(conn: Any, table: str, parquet: Path) -> None:
    """Stream a Parquet file into COPY ... FROM STDIN (CSV, encoded by pyarrow batch by batch)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    options = pacsv.WriteOptions(include_header=False)
    with conn.cursor() as cur, cur.copy(f"copy {table} ({INPUT_COLUMNS}) from stdin (format csv)") as copy:
        for batch in pq.ParquetFile(parquet).iter_batches(batch_size=200_000):
            buffer = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buffer, options)
            copy.write(buffer.getvalue())


def run_postgres(pg: Postgres, work: Path, rows: int, delta_rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conn = pg.connect()

    def measured(action: Callable[[], None]) -> Step:
        with PssSampler(pg.pid) as sampler:
            started = time.perf_counter()
            action()
            seconds = time.perf_counter() - started
        return Step(seconds, sampler.peak_mib)

    def load() -> None:
        with conn.transaction():  # created and filled in one transaction: COPY skips the WAL
            conn.execute(PG_TABLE)
            pg_copy(conn, "student_scores", work / "base.parquet")

    def build() -> None:
        for sql in PG_INDEXES:
            conn.execute(sql)
        for name, sql in PG_VIEWS.items():
            conn.execute(f"create materialized view {name} as {sql}")
        for sql in PG_VIEW_INDEXES:
            conn.execute(sql)
        for name in PG_VIEWS:
            conn.execute(f"analyze {name}")

    def delta_load() -> None:
        conn.execute("create unlogged table delta (like student_scores including defaults, ord bigserial)")
        pg_copy(conn, "delta", work / "delta.parquet")

    def incremental() -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in PG_UPSERT_COLUMNS) + ", updated_at = now()"
        with conn.transaction():
            conn.execute(
                f"insert into student_scores ({INPUT_COLUMNS}) "
                f"select distinct on (school_year, test_id, student_id) {INPUT_COLUMNS} from delta "
                "order by school_year, test_id, student_id, ord desc "
                f"on conflict (school_year, test_id, student_id) do update set {updates}"
            )
            conn.execute("drop table delta")
        for name in PG_VIEWS:
            conn.execute(f"refresh materialized view {name}")

    print("postgres: COPY (base)", flush=True)
    out["load"] = measured(load).as_dict()
    out["load"]["rows_per_second"] = round(rows / out["load"]["seconds"])
    print("postgres: indexes + materialized views", flush=True)
    out["full_build"] = measured(build).as_dict()
    print("postgres: COPY (delta)", flush=True)
    out["delta_load"] = measured(delta_load).as_dict()
    out["delta_load"]["rows_per_second"] = round(delta_rows / out["delta_load"]["seconds"])
    print("postgres: upsert + refresh materialized views", flush=True)
    out["incremental_build"] = measured(incremental).as_dict()
    # steady state before queries (what autovacuum would reach): visibility map and statistics
    started = time.perf_counter()
    for name in ("student_scores", *PG_VIEWS):
        conn.execute(f"vacuum (analyze) {name}")
    out["settle_seconds"] = round(time.perf_counter() - started, 1)
    sizes = conn.execute(
        "select pg_database_size(current_database()), pg_table_size('student_scores'), "
        "pg_indexes_size('student_scores'), "
        "(select sum(pg_total_relation_size(c.oid)) from pg_class as c "
        " where c.relkind = 'm')"
    ).fetchone()
    out["disk"] = {
        "total_bytes": int(sizes[0]),
        "fact_bytes": int(sizes[1]),
        "fact_index_bytes": int(sizes[2]),
        "aggregate_bytes": int(sizes[3] or 0),
    }
    conn.close()
    return out


# --------------------------------------------------------------------------------------------
# queries


# The project: the design's lookups (Q1, Q2 and Q3 on the marts) are one dictGet on the serving
# dictionaries (models/serving/dict_*_report.sql), which hold every report's whole answer per key;
# Q4 is one key lookup in an EmbeddedRocksDB table (kv_student_context_report); the raw-fact Q3 is
# the SQL a user writes (served by the fact table's projection).
def _lookup(dictionary: str, key: str, attribute: str = "report_rows") -> str:
    return f"SELECT dictGet('scores.{dictionary}', '{attribute}', ({key}))"


# The SQL a BI user writes against the marts (the probe and the client-overhead table time it).
MART_SQL = {
    "classroom": (
        "SELECT teacher_id, teacher_name, test_id, subject, student_count, avg_score, median_score, "
        "excellent_count, good_count, fair_count, needs_improvement_count "
        "FROM scores.agg_classroom_scores "
        "WHERE school_year = {y:UInt16} AND teacher_id = {k:String} AND test_id = {t:String}"
    ),
    "school_by_grade": (
        "SELECT grade, subject, student_count, avg_score, median_score, score_stddev "
        "FROM scores.agg_school_grade_scores "
        "WHERE school_year = {y:UInt16} AND school_id = {k:String} AND test_id = {t:String} ORDER BY grade"
    ),
    "district_comparison": (
        "SELECT district_id, district_name, test_id, subject, student_count AS total_students, "
        "avg_score AS district_avg_score, median_score AS district_median_score "
        "FROM scores.agg_district_scores WHERE school_year = {y:UInt16} AND state_id = {k:String} "
        "ORDER BY district_avg_score DESC"
    ),
    "student_in_context": (
        "SELECT student_id, overall_score, performance_level, dimension_scores, classroom_avg_score, "
        "school_grade_avg_score, district_grade_avg_score FROM scores.srv_student_context "
        "WHERE school_year = {y:UInt16} AND teacher_id = {k:String} AND test_id = {t:String}"
    ),
}


PROJECT_SQL = {
    "classroom": _lookup("dict_classroom_report", "{y:UInt16}, {k:String}, {t:String}"),
    "school_by_grade": _lookup("dict_school_grade_report", "{y:UInt16}, {k:String}, {t:String}"),
    # thousands of rows per answer at 100M: read as the dictionary's pre-serialized JSON text
    "district_comparison": _lookup("dict_state_district_report", "{y:UInt16}, {k:String}", "report_json"),
    "student_in_context": (
        "SELECT report_rows FROM scores.kv_student_context_report "
        "WHERE classroom_key = ({y:UInt16}, {k:String}, {t:String})"
    ),
    "district_comparison_raw": (
        "SELECT district_id, test_id, subject, count() AS total_students, "
        "avg(overall_score) AS district_avg_score, "
        "quantileExactInclusive(0.5)(overall_score) AS district_median_score "
        "FROM scores.fct_student_scores WHERE school_year = {y:UInt16} AND state_id = {k:String} "
        "GROUP BY district_id, test_id, subject ORDER BY district_avg_score DESC"
    ),
}

# PostgreSQL and DuckDB: the design's queries on the design's aggregates (placeholders: $y, $k, $t).
DESIGN_SQL = {
    "classroom": (
        "SELECT teacher_id, teacher_name, test_id, subject, student_count, avg_score, median_score, "
        "excellent_count, good_count, fair_count, needs_improvement_count FROM classroom_aggregates "
        "WHERE school_year = $y AND teacher_id = $k AND test_id = $t"
    ),
    "school_by_grade": (
        "SELECT grade, subject, student_count, avg_score, median_score, score_std_dev "
        "FROM school_aggregates WHERE school_year = $y AND school_id = $k AND test_id = $t ORDER BY grade"
    ),
    "district_comparison": (
        "SELECT district_id, test_id, subject, sum(student_count) AS total_students, "
        "avg(avg_score) AS district_avg_score, avg(median_score) AS district_median_score "
        "FROM district_aggregates WHERE school_year = $y AND state_id = $k "
        "GROUP BY district_id, test_id, subject ORDER BY district_avg_score DESC"
    ),
    "student_in_context": (
        "SELECT s.student_id, s.overall_score, s.overall_performance_level, s.dimension_scores, "
        "c.avg_score AS classroom_avg, sch.avg_score AS school_avg, d.avg_score AS district_avg "
        "FROM student_scores s "
        "LEFT JOIN classroom_aggregates c ON s.school_year = c.school_year AND s.teacher_id = c.teacher_id "
        "AND s.test_id = c.test_id "
        "LEFT JOIN school_aggregates sch ON s.school_year = sch.school_year AND s.school_id = sch.school_id "
        "AND s.test_id = sch.test_id AND s.grade = sch.grade "
        "LEFT JOIN district_aggregates d ON s.school_year = d.school_year "
        "AND s.district_id = d.district_id AND s.test_id = d.test_id AND s.grade = d.grade "
        "WHERE s.teacher_id = $k AND s.school_year = $y AND s.test_id = $t"
    ),
    "district_comparison_raw": (
        "SELECT district_id, test_id, subject, count(*) AS total_students, "
        "avg(overall_score) AS district_avg_score, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY overall_score) AS district_median_score "
        "FROM student_scores WHERE school_year = $y AND state_id = $k "
        "GROUP BY district_id, test_id, subject ORDER BY district_avg_score DESC"
    ),
}

QUERY_LABELS = {
    "classroom": "Q1 classroom",
    "school_by_grade": "Q2 school by grade",
    "district_comparison": "Q3 districts of a state",
    "student_in_context": "Q4 student in context",
    "district_comparison_raw": "Q3 from raw facts",
}
# answers compared value by value (Q3 on the design's aggregates averages grade averages, so
# only its row count is compared); JSON columns are left out (JSONB re-formats the text)
LOOKUPS = {"classroom", "school_by_grade", "district_comparison", "student_in_context"}
JSON_TEXT_LOOKUPS = {"district_comparison"}
EXACT_ANSWERS = {"classroom", "school_by_grade", "student_in_context", "district_comparison_raw"}


def design_sql(name: str, style: str) -> tuple[str, list[str]]:
    """The design's SQL with positional placeholders for psycopg (%s) or DuckDB (?)."""
    sql = DESIGN_SQL[name]
    order = sorted(("$y", "$k", "$t"), key=lambda p: sql.find(p) if p in sql else 1 << 30)
    names = [p for p in order if p in sql]
    for p in names:
        sql = sql.replace(p, "%s" if style == "pg" else "?")
    return sql, [p[1] for p in names]


def settle_merges(conn: Any, limit: float = 300.0) -> float:
    """Let chDB finish background merges (it merges only while a process has it open)."""
    started = time.perf_counter()
    quiet = 0
    while quiet < 3 and time.perf_counter() - started < limit:
        busy = int(conn.query("SELECT count() FROM system.merges", "TabSeparated").bytes() or b"0")
        quiet = 0 if busy else quiet + 1
        time.sleep(1)
    return round(time.perf_counter() - started, 1)


_PLACEHOLDER = re.compile(r"\{(\w+):\w+\}")


def bind_client_side(sql: str, params: dict[str, Any]) -> str:
    """Replace ``{name:Type}`` placeholders by literals escaped by clickhouse-connect.

    This is what clickhouse-connect does for ``%(name)s`` parameters. Binding on the engine
    (``params=``) substitutes into the parsed query and costs 0.1-0.3 ms more per lookup
    (the client-overhead table of the report).
    """
    from clickhouse_connect.driver.binding import format_query_value

    return _PLACEHOLDER.sub(lambda m: str(format_query_value(params[m.group(1)])), sql)


class Runner:
    """Runs one query class on one engine with bound parameters and returns the rows."""

    def __init__(self, chdb_conn: Any, pg_conn: Any, duck_conn: Any) -> None:  # peers: None if not run
        self.chdb = chdb_conn
        self.pg = pg_conn
        self.duck = duck_conn
        self.pg_sql = {n: design_sql(n, "pg") for n in DESIGN_SQL}
        self.duck_sql = {n: design_sql(n, "duck") for n in DESIGN_SQL}

    def run(self, engine: str, name: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        if engine == "project":
            if name in JSON_TEXT_LOOKUPS:  # one JSON array of objects, as it is stored
                text = self.chdb.query(bind_client_side(PROJECT_SQL[name], params), "RawBLOB").bytes()
                return [list(row.values()) for row in json.loads(text)]
            result = self.chdb.query(bind_client_side(PROJECT_SQL[name], params), "JSONCompact")
            data = json.loads(result.bytes())["data"]
            if name in LOOKUPS:  # one row holding the report's rows
                return [list(row.values()) for row in data[0][0]]
            return list(data)
        if engine == "postgres":
            sql, order = self.pg_sql[name]
            return list(self.pg.execute(sql, [params[p] for p in order]).fetchall())
        sql, order = self.duck_sql[name]
        return list(self.duck.execute(sql, [params[p] for p in order]).fetchall())


def normalise(rows: list[Sequence[Any]]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        values: list[Any] = []
        for v in row:
            if isinstance(v, dict) or (isinstance(v, str) and v.startswith("{")):
                continue
            try:
                values.append(round(float(v), 4))
            except (TypeError, ValueError):
                values.append(str(v))
        out.append(tuple(values))
    return sorted(out, key=repr)


def sample_keys(conn: Any, n: int, warmup: int) -> dict[str, list[dict[str, Any]]]:
    """Real keys from the marts: per query class, `warmup` warm-up keys followed by >= n measured ones."""

    def rows(sql: str) -> list[list[Any]]:
        return list(json.loads(conn.query(sql, "JSONCompact").bytes())["data"])

    total = n + warmup
    classrooms = rows(
        "SELECT school_year, teacher_id, test_id FROM scores.agg_classroom_scores "
        f"ORDER BY cityHash64(school_year, teacher_id, test_id) LIMIT {2 * total}"
    )
    schools = rows(
        "SELECT DISTINCT school_year, school_id, test_id FROM scores.agg_school_grade_scores "
        f"ORDER BY cityHash64(school_year, school_id, test_id) LIMIT {total}"
    )
    states = rows(
        "SELECT DISTINCT school_year, state_id FROM scores.agg_district_scores "
        "ORDER BY cityHash64(school_year, state_id)"
    )

    def keyed(items: list[list[Any]]) -> list[dict[str, Any]]:
        return [{"y": int(r[0]), "k": r[1]} | ({"t": r[2]} if len(r) > 2 else {}) for r in items]

    # state-level keys: (school year, state) pairs are few; all of them, cycled to n measurements
    state_keys = keyed(states)
    state_cycle = state_keys[: min(warmup, len(state_keys))] + [
        state_keys[i % len(state_keys)] for i in range(n)
    ]
    return {
        "classroom": keyed(classrooms[:total]),
        "school_by_grade": keyed(schools),
        "district_comparison": state_cycle,
        "student_in_context": keyed(classrooms[total : 2 * total]),
        "district_comparison_raw": state_cycle,
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def run_queries(
    runner: Runner, keys: dict[str, list[dict[str, Any]]], warmup: int, engines: Sequence[str]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, key_list in keys.items():
        print(f"queries: {name} ({len(key_list) - warmup} measured keys)", flush=True)
        warm, measured = key_list[:warmup], key_list[warmup:]
        for params in warm:
            for engine in engines:
                runner.run(engine, name, params)
        times: dict[str, list[float]] = {e: [] for e in engines}
        mismatches: list[dict[str, Any]] = []
        for i, params in enumerate(measured):
            answers: dict[str, list[tuple[Any, ...]]] = {}
            for j in range(len(engines)):
                engine = engines[(i + j) % len(engines)]  # alternate who goes first
                started = time.perf_counter()
                rows = runner.run(engine, name, params)
                times[engine].append(time.perf_counter() - started)
                answers[engine] = normalise(rows)
            reference = answers["project"]
            for engine in engines[1:]:
                other = answers[engine]
                same = len(other) == len(reference) and (name not in EXACT_ANSWERS or other == reference)
                if not same and len(mismatches) < 5:
                    mismatches.append(
                        {"engine": engine, "params": params, "rows": [len(reference), len(other)]}
                    )
        distinct = len({json.dumps(p, sort_keys=True) for p in measured})
        results[name] = {
            "measured": len(measured),
            "distinct_keys": distinct,
            "answers_match": not mismatches,
            "mismatches": mismatches,
        } | {
            engine: {
                "p50_ms": round(percentile(ts, 0.5) * 1000, 3),
                "p95_ms": round(percentile(ts, 0.95) * 1000, 3),
                "mean_ms": round(statistics.fmean(ts) * 1000, 3),
            }
            for engine, ts in times.items()
        }
    return results


def client_overhead(chdb_path: Path, keys: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-query cost of the ways to query chDB in-process, on Q1 (classroom) and SELECT 1."""
    from engine.embedded import open_embedded_client, open_engine_connection

    client = open_embedded_client(chdb_path)
    raw = open_engine_connection(chdb_path)
    cursor = raw.cursor()
    sql = MART_SQL["classroom"]

    def literal(p: dict[str, Any]) -> str:
        return bind_client_side(sql, p)

    def cursor_rows(p: dict[str, Any]) -> list[Any]:
        cursor.execute(literal(p))
        return list(cursor.fetchall())

    ways: dict[str, Callable[[dict[str, Any]], object]] = {
        "clickhouse_connect.query(params).result_rows": lambda p: client.query(sql, parameters=p).result_rows,
        "chdb conn.query(params, JSONCompact)+json": lambda p: json.loads(
            raw.query(sql, "JSONCompact", params=p).bytes()
        ),
        "chdb conn.query(literal, TabSeparated) bytes": lambda p: raw.query(
            literal(p), "TabSeparated"
        ).bytes(),
        "chdb conn.query(literal, ArrowTable)": lambda p: raw.query(literal(p), "ArrowTable").to_pylist(),
        "chdb cursor.execute(literal).fetchall()": cursor_rows,
        "clickhouse_connect SELECT 1": lambda p: client.query("SELECT 1").result_rows,
        "chdb conn SELECT 1": lambda p: raw.query("SELECT 1", "TabSeparated").bytes(),
        "chdb conn dictGet(params, JSONCompact)+json": lambda p: json.loads(
            raw.query(PROJECT_SQL["classroom"], "JSONCompact", params=p).bytes()
        ),
        "chdb conn dictGet(literal, JSONCompact)+json": lambda p: json.loads(
            raw.query(bind_client_side(PROJECT_SQL["classroom"], p), "JSONCompact").bytes()
        ),
        "chdb conn SELECT 1 with parallel formatting": lambda p: raw.query(
            "SELECT 1 SETTINGS output_format_parallel_formatting = 1", "TabSeparated"
        ).bytes(),
    }
    out = {}
    for label, way in ways.items():
        for p in keys[:5]:
            way(p)
        ts = []
        for p in keys:
            started = time.perf_counter()
            way(p)
            ts.append(time.perf_counter() - started)
        out[label] = {
            "p50_ms": round(percentile(ts, 0.5) * 1000, 3),
            "p95_ms": round(percentile(ts, 0.95) * 1000, 3),
        }
    cursor.close()
    return out


def project_disk(conn: Any, chdb_dir: Path) -> dict[str, Any]:
    def one(sql: str) -> list[Any]:
        return list(json.loads(conn.query(sql, "JSONCompact").bytes())["data"][0])

    fact = one(
        "SELECT sum(bytes_on_disk), sum(data_uncompressed_bytes), sum(data_compressed_bytes) "
        "FROM system.parts WHERE active AND database = 'scores' AND table = 'fct_student_scores'"
    )
    total = one(
        "SELECT sum(bytes_on_disk), sumIf(bytes_on_disk, database = 'scores_raw') "
        "FROM system.parts WHERE active"
    )
    return {
        "total_bytes": du_bytes(chdb_dir),
        "table_bytes": int(total[0]),
        "raw_landing_bytes": int(total[1]),
        "fact_bytes": int(fact[0]),
        "fact_clickhouse_compression": round(int(fact[1]) / max(int(fact[2]), 1), 2),
    }


# --------------------------------------------------------------------------------------------
# report


def ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 2) if theirs else float("nan")


def markdown(report: dict[str, Any]) -> str:
    rows, m, q, e = report["rows"], report["machine"], report["queries"], report["engines"]
    engines, peers = list(e), [x for x in e if x != "project"]
    short = {"postgres": "PG", "duckdb": "DuckDB"}
    skipped = report.get("skipped", {})
    lines = [
        f"# {' vs '.join(ENGINE_LABELS[x] for x in engines)}, {rows:,} rows",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM. "
        f"Command: `python benchmarks/compare.py --rows {rows}"
        + (f" --engines {','.join(engines)}" if len(engines) < len(ENGINES) else "")
        + "`. Single client, bound parameters, "
        "engines alternating per key; latency includes fetching the rows into Python.",
        *[f"\n{ENGINE_LABELS[x]} not run: {why}" for x, why in skipped.items()],
        "",
        "## Query latency (ms)",
        "",
        "Ratio = our latency / peer latency (below 1: we are faster).",
        "",
        "| Query | keys | "
        + " | ".join(f"{ENGINE_LABELS[x].split(' (')[0]} p50 | p95" for x in engines)
        + "".join(f" | vs {short[x]} p50 | vs {short[x]} p95" for x in peers)
        + " | answers |",
        "|---|---:|" + "---:|" * (2 * len(engines) + 2 * len(peers)) + "---|",
    ]
    for name, r in q.items():
        ours = r["project"]
        cells = [f"{r[x]['p50_ms']:.2f} | {r[x]['p95_ms']:.2f}" for x in engines]
        cells += [f"{ratio(ours[p], r[x][p])}" for x in peers for p in ("p50_ms", "p95_ms")]
        lines.append(
            f"| {QUERY_LABELS[name]} | {r['measured']} ({r['distinct_keys']} distinct) | "
            + " | ".join(cells)
            + f" | {'match' if r['answers_match'] else 'DIFFER'} |"
        )
    lines += [
        "",
        "## Load, build, disk, memory",
        "",
        "| | " + " | ".join(ENGINE_LABELS[x] for x in engines) + " |",
        "|---|" + "---:|" * len(engines),
    ]

    def row(label: str, get: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(get(e[x]) for x in engines) + " |")

    mib = 2**20
    row("load (s)", lambda x: f"{x['load']['seconds']:.1f}")
    row("load rows/s", lambda x: f"{x['load']['rows_per_second']:,}")
    row("full build (s)", lambda x: f"{x['full_build']['seconds']:.1f}")
    row("load + full build (s)", lambda x: f"{x['load']['seconds'] + x['full_build']['seconds']:.1f}")
    row("delta load (s)", lambda x: f"{x['delta_load']['seconds']:.1f}")
    row("incremental build (s)", lambda x: f"{x['incremental_build']['seconds']:.1f}")
    row("peak memory load (MiB)", lambda x: f"{x['load']['peak_mib']:,}")
    row("peak memory full build (MiB)", lambda x: f"{x['full_build']['peak_mib']:,}")
    row("peak memory incremental (MiB)", lambda x: f"{x['incremental_build']['peak_mib']:,}")
    row("disk, everything (MiB)", lambda x: f"{x['disk']['total_bytes'] / mib:,.0f}")
    row("disk, fact table (MiB)", lambda x: f"{x['disk']['fact_bytes'] / mib:,.0f}")
    row("compression (Arrow bytes / fact table)", lambda x: f"{x['compression_ratio']:.1f}x")
    f = report["files"]
    lines += [
        "",
        f"Data: {rows:,} generated rows (Parquet {f['parquet_bytes'] / mib:,.0f} MiB, "
        f"{f['logical_bytes'] / mib:,.0f} MiB as Arrow in memory); delta {f['delta_rows']:,} rows "
        f"({f['delta_new_rows']:,} new, {f['delta_correction_rows']:,} corrections).",
        "",
        "* project load = `scores load` (validation in the engine, quarantine, audit, commit marker); "
        "full/incremental build = `dbt build` (all models and data tests); disk includes the raw "
        "landing table, the fact table, a second copy sorted by teacher, every mart and the serving "
        "layer. Project queries Q1-Q4: one key lookup each in the serving layer (models/serving: "
        "dictGet on three dictionaries, an EmbeddedRocksDB table for Q4); Q3 from raw facts: plain "
        "SQL on the fact table (answered by its aggregate projection).",
        "* PostgreSQL load = COPY; full build = the design's indexes (+ a unique score key for upserts), "
        "ANALYZE, three materialized views and their indexes; "
        "incremental = upsert + REFRESH MATERIALIZED VIEW.",
        "* DuckDB load = fact table sorted by the design's ORDER BY; build = the design's three aggregates "
        "as tables; incremental = delete + insert of the delta keys and the aggregates recomputed.",
        "",
        "## chDB client overhead (Q1 classroom as SQL on the mart, same keys)",
        "",
        "| way | p50 ms | p95 ms |",
        "|---|---:|---:|",
    ]
    for label, r in report["chdb_clients"].items():
        lines.append(f"| `{label}` | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["queries"])
    fig, ax = plt.subplots(figsize=(11, 5.5))
    engines = list(report["engines"])
    width = 0.78 / len(engines)
    colors = {"project": "#f2a900", "postgres": "#336791", "duckdb": "#6b6b6b"}
    for i, engine in enumerate(engines):
        p50 = [report["queries"][n][engine]["p50_ms"] for n in names]
        p95 = [report["queries"][n][engine]["p95_ms"] for n in names]
        xs = [x + (i - (len(engines) - 1) / 2) * width for x in range(len(names))]
        ax.bar(xs, p50, width, label=ENGINE_LABELS[engine], color=colors[engine])
        ax.errorbar(
            xs, p50, yerr=[[0] * len(p50), [b - a for a, b in zip(p50, p95, strict=True)]], fmt="none",
            ecolor="black", capsize=3, linewidth=0.8,
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), [QUERY_LABELS[n] for n in names])
    ax.set_ylabel("latency ms (bar p50, whisker p95, log scale)")
    m = report["machine"]
    ax.set_title(f"{report['rows']:,} rows, single client; {m['cpu']}, {m['cores']} cores")
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------


def check_disk(work: Path, rows: int, engines: Sequence[str]) -> None:
    """Stop before generating anything when the engines' data cannot fit the work directory's disk."""
    parquet = rows * 11  # base file and delta
    need = parquet + sum(DISK_BYTES_PER_ROW[e] * rows for e in engines)
    free = shutil.disk_usage(work).free
    if need > free:
        gib = 2**30
        per_engine = ", ".join(f"{e} {DISK_BYTES_PER_ROW[e] * rows / gib:,.0f}" for e in engines)
        sys.exit(
            f"compare.py: {rows:,} rows need about {need / gib:,.0f} GiB of disk ({per_engine}, "
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
    parser.add_argument("--duckdb-worker", help=argparse.SUPPRESS)
    parser.add_argument("--parquet", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duckdb_worker:
        measured = duckdb_worker(args.duckdb_worker, args.work_dir / "duck.db", args.work_dir / args.parquet)
        (args.work_dir / "duckdb-step.json").write_text(json.dumps(measured))
        return
    requested = set(args.engines.split(","))
    chosen = tuple(e for e in ENGINES if e == "project" or e in requested)
    unknown = requested - set(ENGINES)
    if unknown:
        parser.error(f"--engines: unknown {', '.join(sorted(unknown))} (choose from {', '.join(ENGINES)})")
    ensure_requirements()
    random.seed(1)
    report: dict[str, Any] = {
        "rows": args.rows,
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
    }
    with work_directory(args.work_dir, args.keep) as work:
        check_disk(work, args.rows, chosen)
        env = project_env(work)
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
