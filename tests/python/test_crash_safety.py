"""A load killed with SIGKILL at any moment, then run again, ends with exactly one load's rows.

Real subprocesses on their own data directory: the loader dies at a named point (fault
injection, loaders/faults.py) or after a delay, then the same command runs to completion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from loaders.generator import GeneratorSpec, generate

BIN = Path(sys.executable).parent
ROWS = 100_000  # about 22 MB of CSV: several read blocks, so "after the first batch" is mid-file


@pytest.fixture(scope="module")
def score_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "scores.csv"
    pacsv.write_csv(pa.Table.from_batches(list(generate(GeneratorSpec(rows=ROWS, seed=12)))), path)
    return path


def _env(data: Path, fault: str | None = None) -> dict[str, str]:
    env = {**os.environ, "SCORES_TARGET": "dev", "SCORES_CHDB_PATH": str(data)}
    env.pop("SCORES_FAULT_INJECT", None)
    if fault:
        env["SCORES_FAULT_INJECT"] = fault
    return env


def _load(data: Path, path: Path, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "scores"), "load", "--quiet", str(path)],
        env=_env(data, fault),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _query(data: Path, sql: str) -> list[dict[str, Any]]:
    run = subprocess.run(
        [str(BIN / "scores"), "query", "--format", "JSONEachRow", sql],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def _assert_exactly_one_load(data: Path) -> None:
    (state,) = _query(
        data,
        """
        SELECT
            (SELECT count() FROM scores_raw.load_audit FINAL WHERE status = 'committed') AS committed,
            (SELECT count() FROM scores_raw.student_scores) AS raw_rows,
            (SELECT count() FROM scores_raw.student_scores WHERE _batch_id NOT IN
                (SELECT batch_id FROM scores_raw.load_audit FINAL WHERE status = 'committed')) AS orphans,
            (SELECT uniqExact(school_year, test_id, student_id) FROM scores_raw.student_scores) AS keys,
            (SELECT count() FROM scores_raw.quarantine) AS quarantined,
            (SELECT count() FROM system.tables
             WHERE database = 'scores_raw' AND name LIKE '\\_landing%') AS pipes,
            (SELECT rows_read - rows_landed - rows_quarantined FROM scores_raw.load_audit FINAL
             WHERE status = 'committed') AS unaccounted
        """,
    )
    assert state == {
        "committed": 1,
        "raw_rows": ROWS,
        "orphans": 0,
        "keys": ROWS,
        "quarantined": 0,
        "pipes": 0,
        "unaccounted": 0,
    }


@pytest.mark.parametrize("point", ["after_begin", "after_first_batch", "before_commit", "after_commit"])
def test_kill_at_a_point_then_rerun(tmp_path, score_file, point):
    data = tmp_path / "chdb"
    killed = _load(data, score_file, fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rerun = _load(data, score_file)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    if point == "after_commit":
        assert "skipped" in rerun.stdout  # the first load had committed: nothing to do
    else:
        assert f"{ROWS:,} landed" in rerun.stdout
    _assert_exactly_one_load(data)


@pytest.mark.parametrize("delay", [0.8, 2.0, 3.5])
def test_kill_at_a_random_moment_then_rerun(tmp_path, score_file, delay):
    data = tmp_path / "chdb"
    process = subprocess.Popen(
        [str(BIN / "scores"), "load", "--quiet", str(score_file)],
        env=_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    rerun = _load(data, score_file)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _assert_exactly_one_load(data)
