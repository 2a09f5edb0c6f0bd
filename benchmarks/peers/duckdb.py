"""DuckDB on the design's schema: the fact table sorted by the design's ORDER BY, the design's
aggregates as tables; the delta applied with delete + insert and the aggregates recomputed.

Each step runs in its own process (`python -m benchmarks.peers.duckdb STEP WORK PARQUET`), so its
peak memory is its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.design import DESIGN_ORDER, INPUT_COLUMNS, design_aggregates
from benchmarks.measure import Step, run_measured

DUCK_AGGREGATES = design_aggregates("duckdb")
# where a step process leaves its measured seconds, in the work directory
STEP_FILE = "duckdb-step.json"


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
        worker = [sys.executable, "-m", __name__, step, str(work), parquet]
        step_result = run_measured(worker, dict(os.environ))
        measured = json.loads((work / STEP_FILE).read_text())
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


def main() -> None:
    step, work, parquet = sys.argv[1:4]
    measured = duckdb_worker(step, Path(work) / "duck.db", Path(work) / parquet)
    (Path(work) / STEP_FILE).write_text(json.dumps(measured))


if __name__ == "__main__":
    main()
