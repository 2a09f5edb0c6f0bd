"""The Superset stack the tests in this folder share: the real Superset 6.1, in its own venv.

A small warehouse is built by subprocess (`scores generate` + `dbt build`) in its own chDB
directory, served by `scores serve`; Superset's metadata is made and the dashboard bundle
(bi/superset/dashboards) imported by the documented commands (`scripts/superset.sh init` and
`scripts/superset.sh import`), then `superset run` answers REST calls.

Needs .venv-superset (scripts/superset_env.sh): this folder is skipped without it, unless
SCORES_REQUIRE_SUPERSET is set (CI), where its absence fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
import requests
from served import free_port, stop

from .stack import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    BI_PASSWORD,
    BI_USER,
    MIN_GROUP_SIZE,
    ROOT,
    ROWS,
    Stack,
    run,
    superset_sh,
    tools,
)

BIN = Path(sys.executable).parent
VENV = Path(os.environ.get("SCORES_SUPERSET_VENV") or ROOT / ".venv-superset")

if os.environ.get("SCORES_SKIP_SUPERSET") == "1":
    pytest.skip("SCORES_SKIP_SUPERSET=1: the gate without Superset", allow_module_level=True)
if not (VENV / "bin" / "superset").exists():
    if os.environ.get("SCORES_REQUIRE_SUPERSET"):
        raise RuntimeError(
            f"SCORES_REQUIRE_SUPERSET is set but {VENV} has no Superset: run scripts/superset_env.sh"
        )
    pytest.skip(
        f"Superset is not installed ({VENV} missing): run scripts/superset_env.sh, "
        "or set SCORES_REQUIRE_SUPERSET=1 to make this an error",
        allow_module_level=True,
    )


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"{url}: the server exited ({process.returncode}):\n{log.read_text()[-4000:]}"
            )
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("superset")
    logs = base / "logs"
    logs.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SCORES_DATABASE", "SCORES_RAW_DATABASE")
    }
    env.update(
        SCORES_TARGET="dev",
        SCORES_CHDB_PATH=str(base / "chdb"),
        DBT_PROFILES_DIR=str(ROOT / "profiles"),
        SCORES_SERVE_USERS=f"{BI_USER}:{BI_PASSWORD}:readonly",
        SCORES_MIN_GROUP_SIZE=str(MIN_GROUP_SIZE),
        SCORES_SUPERSET_VENV=str(VENV),
        SCORES_SUPERSET_HOME=str(base / "home"),
        SCORES_SUPERSET_ADMIN_USER=ADMIN_USER,
        SCORES_SUPERSET_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.pop("SCORES_SUPERSET_DB_PASSWORD", None)
    started: list[subprocess.Popen[bytes]] = []
    try:
        # Superset's metadata (db upgrade, admin, roles) while the warehouse builds: the slow parts
        init_log = logs / "init.log"
        init = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "superset.sh"), "init"],
            env=env,
            cwd=ROOT,
            stdout=init_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(init)
        run([str(BIN / "scores"), "generate", "--rows", str(ROWS), "--quiet"], env, logs / "generate.log")
        run(
            [
                str(BIN / "dbt"),
                "build",
                "--quiet",
                "--project-dir",
                str(ROOT),
                "--target-path",
                str(base / "target"),
                "--log-path",
                str(logs / "dbt"),
            ],
            env,
            logs / "dbt.log",
        )
        # copied while no engine has the directory open (dbt has exited, the endpoint not started)
        in_process_copy = base / "chdb-in-process"
        shutil.copytree(base / "chdb", in_process_copy, symlinks=True)  # Atomic tables are symlinks
        endpoint_port = free_port()
        endpoint_log = logs / "endpoint.log"
        endpoint = subprocess.Popen(
            [str(BIN / "scores"), "serve", "--port", str(endpoint_port)],
            env=env,
            cwd=ROOT,
            stdout=endpoint_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(endpoint)
        _wait_for(f"http://127.0.0.1:{endpoint_port}/ping", endpoint, endpoint_log)
        if init.wait(timeout=300) != 0:
            raise AssertionError(f"scripts/superset.sh init failed:\n{init_log.read_text()[-4000:]}")

        # the documented import: bundle zipped with the password, Superset's own importer
        superset_sh(
            "import",
            "--password",
            BI_PASSWORD,
            "--uri",
            f"clickhousedb://{BI_USER}@127.0.0.1:{endpoint_port}/scores",
            env=env,
            log=logs / "import.log",
        )

        superset_port = free_port()
        superset_log = logs / "superset.log"
        superset = subprocess.Popen(
            [
                str(VENV / "bin" / "superset"),
                "run",
                "-h",
                "127.0.0.1",
                "-p",
                str(superset_port),
                "--with-threads",
            ],
            env={**env, "SUPERSET_CONFIG_PATH": str(ROOT / "bi" / "superset" / "superset_config.py")},
            cwd=base,
            stdout=superset_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        started.append(superset)
        url = f"http://127.0.0.1:{superset_port}"
        _wait_for(f"{url}/health", superset, superset_log)
        mart = clickhouse_connect.get_client(
            host="127.0.0.1", port=endpoint_port, username=BI_USER, password=BI_PASSWORD, database="scores"
        )
        yield Stack(
            endpoint_port,
            url,
            tools.Superset(url, ADMIN_USER, ADMIN_PASSWORD),
            mart,
            logs,
            env,
            in_process_copy,
        )
        mart.close()
    finally:
        for process in reversed(started):
            if process.poll() is None:
                stop(process)
