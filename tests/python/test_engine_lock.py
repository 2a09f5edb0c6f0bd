"""Two processes on one chDB data directory: the second gets one clear message, never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.embedded import WarehouseBusyError, holder_of, open_embedded_client

BIN = Path(sys.executable).parent
HOLD = (
    "import sys, time\n"
    "from engine.embedded import open_embedded_client\n"
    "client = open_embedded_client(sys.argv[1])\n"
    "client.command('SELECT 1')\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def held_directory(tmp_path):
    path = tmp_path / "busy" / "chdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == b"ready"
        yield path, holder.pid
    finally:
        holder.kill()
        holder.wait()


def _env(path: Path) -> dict[str, str]:
    return {**os.environ, "SCORES_TARGET": "dev", "SCORES_CHDB_PATH": str(path)}


def test_open_in_a_second_process_raises_a_clear_error(held_directory):
    path, pid = held_directory
    assert holder_of(path) is not None
    with pytest.raises(WarehouseBusyError) as info:
        open_embedded_client(path)
    message = str(info.value)
    assert str(path.resolve()) in message
    assert f"process {pid}" in message
    assert "one process" in message


def test_cli_reports_busy_directory_without_traceback(held_directory):
    path, pid = held_directory
    run = subprocess.run(
        [str(BIN / "scores"), "query", "SELECT 1"],
        env=_env(path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert f"{path.resolve()} is in use by process {pid}" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_dbt_reports_busy_directory_without_traceback(held_directory):
    path, pid = held_directory
    run = subprocess.run(
        [str(BIN / "dbt"), "debug", "--project-dir", str(Path(__file__).parents[2])],
        env={**_env(path), "DBT_PROFILES_DIR": str(Path(__file__).parents[2] / "profiles")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"is in use by process {pid}" in output
    assert "Traceback" not in output


def test_directory_is_free_again_after_the_holder_exits(tmp_path):
    path = tmp_path / "chdb"
    subprocess.run(
        [sys.executable, "-c", HOLD.replace("time.sleep(120)", ""), str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert holder_of(path) is None
