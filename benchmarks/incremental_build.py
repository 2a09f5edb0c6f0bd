"""Full build vs incremental build after a 1% delta, on the embedded engine.

    python benchmarks/incremental_build.py --rows 1000000

Steps (each a plain CLI call, timed): generate + load N rows; `dbt build` (full); then two kinds
of 1% delta, each followed by an incremental `dbt run -s fct_student_scores+`:
  * new results: 1% more rows (new schools' scores);
  * corrections: 1% of existing scores re-scored, spread at random over every school and test
    (the worst case for locality: nearly every district-level group is touched).
Per-model times come from dbt's run_results.json. Writes benchmarks/results/incremental_build.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


SETTLE = """
import sys, time
from loaders.engine import open_embedded_client
client = open_embedded_client(sys.argv[1])
quiet, deadline = 0, time.time() + 300
while quiet < 3 and time.time() < deadline:
    busy = client.query("SELECT count() FROM system.merges").result_rows[0][0]
    quiet = 0 if busy else quiet + 1
    time.sleep(1)
"""


def settle(env: dict[str, str]) -> float:
    """Let the engine finish background merges (chDB merges only while a process has it open)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", SETTLE, env["SCORES_CHDB_PATH"]], cwd=ROOT, env=env, check=True)
    return round(time.perf_counter() - started, 1)


def model_times(target: Path) -> dict[str, float]:
    run_results = json.loads((target / "run_results.json").read_text())
    results = run_results["results"]
    return {"_dbt_elapsed": round(run_results["elapsed_time"], 2)} | {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in results
        if r["unique_id"].startswith("model.")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    target = work / "target"
    env = {
        **os.environ,
        "SCORES_CHDB_PATH": str(work / "chdb"),
        "DBT_PROFILES_DIR": str(ROOT / "profiles"),
        "DBT_TARGET_PATH": str(target),
    }
    scores, dbt = str(BIN / "scores"), str(BIN / "dbt")
    report: dict[str, object] = {"rows": args.rows}
    report["load_seconds"] = round(run(scores, "generate", "--rows", str(args.rows), "-q", env=env), 2)
    report["full_build_seconds"] = round(run(dbt, "build", "--quiet", env=env), 2)
    report["full_build_models"] = model_times(target)
    report["full_run_seconds"] = round(run(dbt, "run", "--quiet", "--full-refresh", env=env), 2)
    report["full_run_models"] = model_times(target)
    # steady state: a warehouse between loads has merged its parts; right after a full rebuild the
    # next process competes with those merges for the cores
    report["settle_seconds"] = settle(env)

    delta = args.rows // 100
    # 1% new results: the rows the generator makes after the first N (new schools' scores)
    report["delta_new_load_seconds"] = round(
        run(scores, "generate", "--rows", str(args.rows + delta), "--skip", str(args.rows), "-q", env=env), 2
    )
    report["incremental_new_seconds"] = round(
        run(dbt, "run", "--quiet", "-s", "fct_student_scores+", env=env), 2
    )
    report["incremental_new_models"] = model_times(target)
    settle(env)

    # 1% corrections spread over everything
    rows_file = work / "sample.csv"
    subprocess.run(
        [
            scores,
            "query",
            "--format",
            "CSVWithNames",
            "SELECT student_id, teacher_id, teacher_name, school_id, school_name, district_id, "
            "district_name, "
            "state_id, subject, grade, test_id, school_year, test_date, overall_score, "
            "reported_performance_level AS overall_performance_level, dimension_scores "
            f"FROM scores.fct_student_scores ORDER BY cityHash64(student_id, test_id) LIMIT {delta}",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=rows_file.open("w"),
    )
    rng = random.Random(1)
    corrections = work / "corrections.csv"
    with rows_file.open() as source, corrections.open("w", newline="") as sink:
        reader, writer = csv.DictReader(source), None
        for row in reader:
            if writer is None:
                writer = csv.DictWriter(sink, fieldnames=reader.fieldnames or [])
                writer.writeheader()
            row["overall_score"] = str(rng.randint(0, 100))
            writer.writerow(row)
    report["delta_corrections_load_seconds"] = round(run(scores, "load", str(corrections), "-q", env=env), 2)
    report["incremental_corrections_seconds"] = round(
        run(dbt, "run", "--quiet", "-s", "fct_student_scores+", env=env), 2
    )
    report["incremental_corrections_models"] = model_times(target)
    out = ROOT / "benchmarks" / "results" / "incremental_build.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
