"""PostgreSQL 15 on the design's schema: a throwaway cluster (initdb + pg_ctl on 127.0.0.1, a free
port, in the work directory), COPY, the design's indexes and materialized views (with indexes);
the delta is an upsert (INSERT ... ON CONFLICT) followed by REFRESH MATERIALIZED VIEW.

Needs the PostgreSQL 15 binaries from Debian (`apt-get install postgresql-15`), or PG_BIN.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.design import INPUT_COLUMNS, design_aggregates
from benchmarks.host import free_port
from benchmarks.measure import PssSampler, Step

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))

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

# the design's build after the fact table is loaded: its indexes, views and their indexes
PG_BUILD = (
    *PG_INDEXES,
    *(f"create materialized view {name} as {sql}" for name, sql in PG_VIEWS.items()),
    *PG_VIEW_INDEXES,
    *(f"analyze {name}" for name in PG_VIEWS),
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

    @property
    def exists(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def restart(self, log: str) -> None:
        """Start a cluster a kept run made, on a new free port (its configured one may be taken)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", f"-p {self.port}",
                  "-l", str(self.directory / log), "-w", "start")  # fmt: skip

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


def load_facts(conn: Any, parquet: Path) -> None:
    with conn.transaction():  # created and filled in one transaction: COPY skips the WAL
        conn.execute(PG_TABLE)
        pg_copy(conn, "student_scores", parquet)


def build_design(conn: Any) -> None:
    for sql in PG_BUILD:
        conn.execute(sql)


def vacuum(conn: Any) -> None:
    """The steady state before queries (what autovacuum would reach): visibility map and statistics."""
    for name in ("student_scores", *PG_VIEWS):
        conn.execute(f"vacuum (analyze) {name}")


def run_postgres(pg: Postgres, work: Path, rows: int, delta_rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    conn = pg.connect()

    def measured(action: Callable[[], None]) -> Step:
        with PssSampler(pg.pid) as sampler:
            started = time.perf_counter()
            action()
            seconds = time.perf_counter() - started
        return Step(seconds, sampler.peak_mib)

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
    out["load"] = measured(lambda: load_facts(conn, work / "base.parquet")).as_dict()
    out["load"]["rows_per_second"] = round(rows / out["load"]["seconds"])
    print("postgres: indexes + materialized views", flush=True)
    out["full_build"] = measured(lambda: build_design(conn)).as_dict()
    print("postgres: COPY (delta)", flush=True)
    out["delta_load"] = measured(delta_load).as_dict()
    out["delta_load"]["rows_per_second"] = round(delta_rows / out["delta_load"]["seconds"])
    print("postgres: upsert + refresh materialized views", flush=True)
    out["incremental_build"] = measured(incremental).as_dict()
    started = time.perf_counter()
    vacuum(conn)
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
