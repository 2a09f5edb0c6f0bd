"""The comparison's report: the Markdown table of results/compare-<rows>.md and the latency plot
of docs/img/benchmark-<rows>.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.queries import QUERY_LABELS

ENGINES = ("project", "postgres", "duckdb")
ENGINE_LABELS = {"project": "project (chDB + dbt)", "postgres": "PostgreSQL 15", "duckdb": "DuckDB"}


MIB = 2**20


def _seconds(step: str) -> Callable[[dict[str, Any]], str]:
    return lambda x: f"{x[step]['seconds']:.1f}"


def _peak(step: str) -> Callable[[dict[str, Any]], str]:
    return lambda x: f"{x[step]['peak_mib']:,}"


def _disk(part: str) -> Callable[[dict[str, Any]], str]:
    return lambda x: f"{x['disk'][part] / MIB:,.0f}"


# the rows of the load, build, disk and memory table: a label and the cell of one engine's results
BUILD_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("load (s)", _seconds("load")),
    ("load rows/s", lambda x: f"{x['load']['rows_per_second']:,}"),
    ("full build (s)", _seconds("full_build")),
    ("load + full build (s)", lambda x: f"{x['load']['seconds'] + x['full_build']['seconds']:.1f}"),
    ("delta load (s)", _seconds("delta_load")),
    ("incremental build (s)", _seconds("incremental_build")),
    ("peak memory load (MiB)", _peak("load")),
    ("peak memory full build (MiB)", _peak("full_build")),
    ("peak memory incremental (MiB)", _peak("incremental_build")),
    ("disk, everything (MiB)", _disk("total_bytes")),
    ("disk, fact table (MiB)", _disk("fact_bytes")),
    ("compression (Arrow bytes / fact table)", lambda x: f"{x['compression_ratio']:.1f}x"),
)


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
        f"Command: `python -m benchmarks.compare --rows {rows}"
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

    for label, cell in BUILD_ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(e[x]) for x in engines) + " |")
    f = report["files"]
    lines += [
        "",
        f"Data: {rows:,} generated rows (Parquet {f['parquet_bytes'] / MIB:,.0f} MiB, "
        f"{f['logical_bytes'] / MIB:,.0f} MiB as Arrow in memory); delta {f['delta_rows']:,} rows "
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
