"""Where the project loses to PostgreSQL/DuckDB, measured: candidate serving layouts, by hand.

    python -m benchmarks.compare --rows 10000000 --work-dir /tmp/cmp-10m --keep
    python -m benchmarks.compare_probe --work-dir /tmp/cmp-10m

Opens the chDB directory a kept benchmarks.compare run built and, in a scratch database `probe` (the
project's tables are not changed), builds candidate layouts with plain DDL and times the same
keys benchmarks.compare sampled on each: the per-query floor of every engine, per-column cost, the
uncompressed cache, serving dictionaries (dictGet), Join tables (joinGet), EmbeddedRocksDB,
smaller index granularity, a projection / ORDER BY for school lookups, a materialised
student-in-context table, and a fact table (or projection) ordered by state for the raw
district comparison. PostgreSQL (the kept cluster) and DuckDB give their own floors.
Writes benchmarks/results/compare-probe-<rows>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from benchmarks.extra import require
from benchmarks.host import RESULTS, machine
from benchmarks.probe import Probe
from benchmarks.probe_layouts import classroom, districts, floors, raw_facts, school, student_context
from benchmarks.queries import sample_keys

ENGINE_OPTIONS = {"background_pool_size": "16", "uncompressed_cache_size": str(2**30)}


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Probe: candidate serving layouts, {report['rows']:,} rows",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM. Same keys as compare.py; "
        "chDB opened in-process (raw connection) with uncompressed_cache_size = 1 GiB; rows fetched as "
        "JSONCompact and parsed. Build = seconds to create the candidate from the built marts.",
        "",
        "| query | variant | p50 ms | p95 ms | build s | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for group, variants in report["results"].items():
        for label, r in variants.items():
            notes = ", ".join(
                f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k} {v}"
                for k, v in r.items()
                if k not in ("p50_ms", "p95_ms", "build_seconds")
            )
            build = f"{r['build_seconds']:.1f}" if "build_seconds" in r else ""
            lines.append(f"| {group} | {label} | {r['p50_ms']:.3f} | {r['p95_ms']:.3f} | {build} | {notes} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work-dir", type=Path, required=True, help="a work directory kept by compare.py --keep"
    )
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    require("duckdb", "psycopg")
    import chdb
    from clickhouse_connect.driver._chdbclient import build_connection_string

    from engine.embedded import holder_of

    path = os.path.realpath(args.work_dir / "chdb")
    if holder_of(path):
        raise SystemExit(f"{path} is held by {holder_of(path)}")
    conn = chdb.connect(build_connection_string(path, ENGINE_OPTIONS))  # type: ignore[no-untyped-call]
    conn.query("CREATE DATABASE IF NOT EXISTS probe", "TabSeparated")
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.work_dir / "base.parquet").metadata.num_rows  # compare.py's --rows
    probe = Probe(conn, sample_keys(conn, args.keys, args.warmup), args.warmup)
    floors(probe, args.work_dir)
    classroom(probe)
    school(probe)
    districts(probe)
    student_context(probe)
    raw_facts(probe)
    report = {"rows": rows, "machine": machine(), "results": probe.results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"compare-probe-{rows}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"compare-probe-{rows}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
