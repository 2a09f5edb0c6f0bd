"""The project's side of a comparison: `scores load` and `dbt build` on a fresh chDB directory,
what dbt reports of a build, and the warehouse's disk once built."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.host import BIN, ROOT
from benchmarks.measure import du_bytes, run_measured


def project_env(work: Path, **settings: str) -> dict[str, str]:
    """The environment of `scores` and `dbt` on a warehouse in `work`, plus `settings`."""
    return {
        **os.environ,
        "SCORES_CHDB_PATH": str(work / "chdb"),
        "DBT_PROFILES_DIR": str(ROOT / "profiles"),
        "DBT_TARGET_PATH": str(work / "target"),
        "SCORES_TARGET": "dev",
        **settings,
    }


# The peers answer the design's queries without suppressing small groups, so a comparison turns
# suppression off to compare equal answers (build_cost.py and api_latency.py measure with it on).
COMPARISON_SETTINGS = {"SCORES_MIN_GROUP_SIZE": "0"}


def run_project(work: Path, rows: int, delta_rows: int) -> dict[str, Any]:
    env = project_env(work, **COMPARISON_SETTINGS)
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


def run_results(target: Path) -> dict[str, Any]:
    """What dbt wrote of its last command in its target directory."""
    results: dict[str, Any] = json.loads((target / "run_results.json").read_text())
    return results


def dbt_summary(target: Path) -> dict[str, Any]:
    results = run_results(target)
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


def settle_merges(conn: Any, limit: float = 300.0) -> float:
    """Let chDB finish background merges (it merges only while a process has it open)."""
    started = time.perf_counter()
    quiet = 0
    while quiet < 3 and time.perf_counter() - started < limit:
        busy = int(conn.query("SELECT count() FROM system.merges", "TabSeparated").bytes() or b"0")
        quiet = 0 if busy else quiet + 1
        time.sleep(1)
    return round(time.perf_counter() - started, 1)


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
