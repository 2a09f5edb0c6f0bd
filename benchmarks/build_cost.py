"""What a `dbt build` costs, by what changed, on the embedded engine.

    python -m benchmarks.build_cost --rows 1000000

One fresh warehouse per run, generated rows. Each step is a whole `dbt build` (models and
tests), timed as a command; model and test time come from dbt's run_results.json:
  * full: the first build of the loaded rows;
  * nothing new: the same build again, nothing loaded in between;
  * 1% new: 1% more rows (the generator's next rows: new scores);
  * 1% corrections: 1% of the existing scores re-scored, spread at random over every school,
    test and school year (nearly every district-level group is touched).
Prints a Markdown table (and the ten most expensive nodes of each step) and writes
benchmarks/results/build_cost-<rows>.json. `--full-tests` adds `--vars full_tests: true` to the
incremental steps (every data test on whole tables, as a full build runs them).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.host import BIN, RESULTS, ROOT
from benchmarks.measure import timed
from benchmarks.ours import project_env, run_results
from loaders.reference import load_reference

# the input columns as the loaders read them, selected back from the fact table
CORRECTION_COLUMNS = (
    "student_id, teacher_id, teacher_name, school_id, school_name, district_id, district_name, "
    "state_id, subject, grade, test_id, school_year, test_date, overall_score, "
    "reported_performance_level AS overall_performance_level, dimension_scores"
)


def node_times(target: Path) -> dict[str, Any]:
    """Model and test time of the last dbt command, and its ten most expensive nodes."""
    results = run_results(target)["results"]

    def total(kind: str) -> float:
        return round(sum(float(r["execution_time"]) for r in results if r["unique_id"].startswith(kind)), 2)

    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:10]
    return {
        "model_seconds": total("model."),
        "test_seconds": total("test."),
        "nodes": len(results),
        "slowest": [[r["unique_id"].split(".", 2)[-1], round(r["execution_time"], 2)] for r in slowest],
    }


def write_corrections(work: Path, rows: int, env: dict[str, str]) -> Path:
    sample = work / "sample.csv"
    with sample.open("w") as out:
        subprocess.run(
            [
                str(BIN / "scores"),
                "query",
                "--format",
                "CSVWithNames",
                f"SELECT {CORRECTION_COLUMNS} FROM scores.fct_student_scores "
                f"ORDER BY cityHash64(student_id, test_id) LIMIT {rows}",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=out,
        )
    rng = random.Random(1)
    corrections = work / "corrections.csv"
    with sample.open() as source, corrections.open("w", newline="") as sink:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(sink, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        reference = load_reference()
        for row in reader:
            score = rng.randint(0, 100)
            row["overall_score"] = str(score)
            # a re-scored test reports the level of its new score, as a real correction does (a
            # disagreeing level is a data error that assert_reported_levels_mostly_agree catches)
            row["overall_performance_level"] = str(reference.level_for(row["subject"], score))
            writer.writerow(row)
    return corrections


def markdown(report: dict[str, Any]) -> str:
    steps = report["steps"]
    full = steps["full"]
    threads = f" --threads {report['threads']}" if report["threads"] else ""
    lines = [
        f"`build_cost.py --rows {report['rows']}{threads}`: whole `dbt build`, models and tests",
        "",
        "| step | wall s | model s | test s | model / full | nodes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, step in steps.items():
        share = step["model_seconds"] / full["model_seconds"] if full["model_seconds"] else 0.0
        lines.append(
            f"| {name} | {step['wall_seconds']:.1f} | {step['model_seconds']:.2f} | "
            f"{step['test_seconds']:.2f} | {share:.3f} | {step['nodes']} |"
        )
    for name, step in steps.items():
        lines += ["", f"Most expensive nodes, {name}:", ""]
        lines += [f"- {node}: {seconds:.2f} s" for node, seconds in step["slowest"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--full-tests", action="store_true", help="run whole-table tests in incremental steps too"
    )
    parser.add_argument("--threads", type=int, help="dbt threads (default: the profile's)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-build-cost-"))
    target = work / "target"
    env = project_env(work)
    scores, dbt = str(BIN / "scores"), str(BIN / "dbt")
    build = [dbt, "build", "--quiet", *(["--threads", str(args.threads)] if args.threads else [])]
    incremental = build + (["--vars", "{full_tests: true}"] if args.full_tests else [])
    delta = max(args.rows // 100, 1)
    report: dict[str, Any] = {"rows": args.rows, "delta_rows": delta, "threads": args.threads, "steps": {}}
    report["load_seconds"] = round(timed([scores, "generate", "--rows", str(args.rows), "-q"], env), 2)

    def step(name: str, command: list[str]) -> None:
        wall = round(timed(command, env), 2)
        report["steps"][name] = {"wall_seconds": wall} | node_times(target)
        print(f"{name}: {wall:.1f} s", file=sys.stderr)

    step("full", build)
    step("nothing new", incremental)
    timed([scores, "generate", "--rows", str(args.rows + delta), "--skip", str(args.rows), "-q"], env)
    step("1% new", incremental)
    corrections = write_corrections(work, delta, env)
    timed([scores, "load", str(corrections), "-q"], env)
    step("1% corrections", incremental)
    suffix = f"-threads{args.threads}" if args.threads else ""
    out = RESULTS / f"build_cost-{args.rows}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    (out.with_suffix(".md")).write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
