"""Slim CI against the full gate: the CI script for a one-model change, and scripts/check.sh
without Superset, timed side by side in one run (whole commands, wall time).

    .venv/bin/python benchmarks/ci_speed.py [--runs 1]

The one-model change is a comment added to models/marts/agg_district_scores.sql in a copy of the
committed project (its own git repository), compared with its base commit, so the CI script
builds that model and its children and defers the rest. Results: benchmarks/results/ci_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy_with_change(work: Path) -> tuple[Path, str]:
    project = work / "project"
    project.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(project)], input=archive, check=True)
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.email=b@example.org", "-c", "user.name=bench", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *command], cwd=project, check=True, capture_output=True)
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()
    model = project / "models" / "marts" / "agg_district_scores.sql"
    model.write_text(model.read_text() + "\n-- a one-model change\n")
    return project, base


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORES_", "DBT_"))}
    ci_times, gate_times = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ci-speed-") as tmp:
            project, base = _copy_with_change(Path(tmp))
            # a warm cache of the base manifest, as CI keeps it between runs of one base commit
            ci = [
                sys.executable,
                "scripts/ci_changes.py",
                "--base",
                base,
                "--cache",
                str(Path(tmp) / "cache"),
            ]
            _timed(ci, project, env)
            ci_times.append(_timed(ci, project, env))
        gate_times.append(_timed(["scripts/check.sh"], ROOT, {**env, "SCORES_SKIP_SUPERSET": "1"}))
    report = {
        "machine": f"{os.cpu_count()} cores",
        "ci_one_model_change_seconds": round(statistics.median(ci_times), 1),
        "gate_without_superset_seconds": round(statistics.median(gate_times), 1),
    }
    report["ratio"] = round(
        report["ci_one_model_change_seconds"] / report["gate_without_superset_seconds"], 3
    )
    out = ROOT / "benchmarks" / "results" / "ci_speed.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
