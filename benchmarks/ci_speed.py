"""Slim CI against the full gate: the CI script for a one-model change, and scripts/check.sh
without Superset, timed side by side in one run (whole commands, wall time).

    .venv/bin/python -m benchmarks.ci_speed [--runs 1]

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
from pathlib import Path

from benchmarks.host import RESULTS, ROOT
from benchmarks.measure import timed


def commit_everything(project: Path) -> str:
    """Make ``project`` a git repository of its files in one commit (the base a change is
    compared with), and return that commit."""
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.email=ci@example.org", "-c", "user.name=CI", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *command], cwd=project, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()


def _copy_with_change(work: Path) -> tuple[Path, str]:
    project = work / "project"
    project.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(project)], input=archive, check=True)
    base = commit_everything(project)
    model = project / "models" / "marts" / "agg_district_scores.sql"
    model.write_text(model.read_text() + "\n-- a one-model change\n")
    return project, base


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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
            timed(ci, env, cwd=project)
            ci_times.append(timed(ci, env, cwd=project))
        gate_times.append(timed(["scripts/check.sh"], {**env, "SCORES_SKIP_SUPERSET": "1"}))
    ci_seconds = round(statistics.median(ci_times), 1)
    gate_seconds = round(statistics.median(gate_times), 1)
    report = {
        "machine": f"{os.cpu_count()} cores",
        "ci_one_model_change_seconds": ci_seconds,
        "gate_without_superset_seconds": gate_seconds,
        "ratio": round(ci_seconds / gate_seconds, 3),
    }
    out = RESULTS / "ci_speed.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
