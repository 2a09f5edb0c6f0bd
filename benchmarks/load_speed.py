"""Loader throughput and peak memory, through the `scores load` command (validation included).

    python -m benchmarks.load_speed --rows 1000000 [--formats parquet,csv,jsonl]

For each format: write N generated rows to a file, load it into a fresh embedded warehouse, and
report rows/s (wall time of the whole command, start-up included) and the peak resident memory
of the loader process. For Parquet also the engine's floor on this machine, in a fresh process:
the same file read into a table that stores nothing, and copied into the raw ledger with its
types and sort order but no validation, quarantine or audit (what a load can never beat).
Writes benchmarks/results/load_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.host import BIN, RESULTS, ROOT
from benchmarks.measure import run_measured

# Run in a fresh process: time two INSERT ... SELECT from file(path, Parquet) on a new engine.
FLOOR = """
import sys, time
from engine.embedded import open_embedded_client, open_engine_connection
from loaders.fast_path import FILE_SETTINGS
from loaders.schema import INPUT_COLUMN_NAMES, SCORES_TABLE, raw_table_ddl
path, directory = sys.argv[1:3]
client = open_embedded_client(directory)
for statement in raw_table_ddl("scores"):
    client.command(statement)
engine = open_engine_connection(directory)
columns = ", ".join(f"`{name}`" for name in INPUT_COLUMN_NAMES)
engine.query(f"CREATE TABLE scores.nothing AS scores.{SCORES_TABLE} ENGINE = Null")
for table in ("nothing", SCORES_TABLE):
    started = time.perf_counter()
    engine.query(
        f"INSERT INTO scores.{table} ({columns}, _batch_id, _row_number) "
        f"SELECT {columns}, 'floor', _row_number + 1 FROM file('{path}', Parquet) SETTINGS {FILE_SETTINGS}"
    )
    print(time.perf_counter() - started)
"""


def engine_floor(path: Path, work: Path) -> dict[str, float]:
    """Seconds to read the Parquet file (into ENGINE = Null) and to copy it, unvalidated, into
    the raw ledger (sorted MergeTree), on a fresh embedded engine in a new process."""
    measured = subprocess.run(
        [sys.executable, "-c", FLOOR, str(path), str(work / "chdb-floor")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        "read_only_seconds": round(float(measured[0]), 2),
        "unvalidated_copy_seconds": round(float(measured[1]), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="parquet,csv")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    results = []
    for fmt in args.formats.split(","):
        path = work / f"scores.{fmt}"
        subprocess.run(
            [str(BIN / "scores"), "generate", "--rows", str(args.rows), "--out", str(path)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env = {**os.environ, "SCORES_CHDB_PATH": str(work / f"chdb-{fmt}")}
        # the loader's own peak memory, as the only child of a wrapper process
        step = run_measured([str(BIN / "scores"), "load", "--quiet", str(path)], env)
        seconds, peak_mib = step.seconds, step.peak_mib or 0.0
        results.append(
            {
                "format": fmt,
                "rows": args.rows,
                "file_mib": round(path.stat().st_size / 2**20, 1),
                "seconds": round(seconds, 2),
                "rows_per_second": round(args.rows / seconds),
                "peak_rss_mib": round(peak_mib),
            }
        )
        if fmt == "parquet":
            results[-1]["engine_floor"] = engine_floor(path, work)
        print(json.dumps(results[-1]))
        path.unlink()
    # one entry per (format, rows): a run replaces the entries it measured and keeps the others
    out = RESULTS / "load_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    measured = {(r["format"], r["rows"]) for r in results}
    kept = json.loads(out.read_text())["results"] if out.exists() else []
    merged = [r for r in kept if (r["format"], r["rows"]) not in measured] + results
    merged.sort(key=lambda r: (r["rows"], r["format"]))
    out.write_text(json.dumps({"machine": f"{os.cpu_count()} cores", "results": merged}, indent=2) + "\n")


if __name__ == "__main__":
    main()
