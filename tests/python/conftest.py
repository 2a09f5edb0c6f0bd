"""Fixtures: a real embedded ClickHouse (chDB) warehouse per test session, a database pair per test.

chDB allows one data directory per process, so the session shares one directory and every test
gets its own databases (SCORES_DATABASE / SCORES_RAW_DATABASE), which the loaders and the dbt
profile both read. dbt runs in-process through dbtRunner, on the same engine.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from loaders.config import PROJECT_DIR, Settings
from loaders.landing import Landing
from loaders.load import open_landing

ROOT = PROJECT_DIR


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "chdb"
    os.environ["SCORES_TARGET"] = "dev"
    os.environ["SCORES_CHDB_PATH"] = str(path)
    os.environ["DBT_PROFILES_DIR"] = str(ROOT / "profiles")
    return path


@pytest.fixture(scope="session")
def dbt_target_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_target")


@dataclass
class Warehouse:
    settings: Settings
    client: Client
    landing: Landing
    target_dir: Path

    def dbt(self, *args: str, expect_success: bool = True) -> Any:
        """Run a dbt command in-process against this test's databases."""
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(ROOT),
                "--profiles-dir",
                str(ROOT / "profiles"),
                "--target-path",
                str(self.target_dir),
                "--log-path",
                str(self.target_dir / "logs"),
                "--quiet",
            ]
        )
        if expect_success and not result.success:
            failures = []
            for node in getattr(result.result, "results", None) or []:
                if str(node.status) not in ("success", "pass"):
                    failures.append(f"{node.node.name}: {node.status}: {node.message}")
            raise AssertionError(
                f"dbt {' '.join(args)} failed: {result.exception or ''}\n" + "\n".join(failures)
            )
        return result

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.client.query(sql, parameters=parameters).result_rows]

    def scalar(self, sql: str, **parameters: Any) -> Any:
        """The single value of a query (typed; command() would return TSV-escaped text)."""
        return self.client.query(sql, parameters=parameters).result_rows[0][0]

    @property
    def db(self) -> str:
        return self.settings.database

    @property
    def raw(self) -> str:
        return self.settings.raw_database


@contextmanager
def fresh_warehouse(name: str, target_dir: Path, **env: str) -> Iterator[Warehouse]:
    """A pair of new databases on the session engine, dropped afterwards."""
    name = re.sub(r"\W+", "_", name).strip("_")[:30].lower()
    suffix = uuid.uuid4().hex[:6]
    values = {"SCORES_DATABASE": f"t_{name}_{suffix}", "SCORES_RAW_DATABASE": f"t_{name}_{suffix}_raw", **env}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    settings = Settings.from_env()
    client = settings.connect()
    try:
        yield Warehouse(settings, client, open_landing(client, settings), target_dir)
    finally:
        for database in (settings.database, settings.raw_database):
            client.command(f"DROP DATABASE IF EXISTS `{database}`")
        client.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def warehouse(chdb_path: Path, dbt_target_dir: Path, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    with fresh_warehouse(request.node.name, dbt_target_dir) as built:
        yield built


# the test tiers (pyproject.toml's markers), by the test file's name in any folder (dashboard/test_superset):
# every module not listed is an integration test
TIERS = {
    "unit": {"test_units", "test_layout"},
    "e2e": {
        "test_superset",
        "test_serve_security",
        "test_endpoint",
        "test_privacy",
        "test_report_api",
        "test_crash_safety",
        "test_ci_changes",
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = next((name for name, modules in TIERS.items() if item.path.stem in modules), "integration")
        item.add_marker(getattr(pytest.mark, tier))


_exit_status = 0


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without chDB's process-wide teardown once pytest has reported.

    The embedded server is destroyed by C++ static destructors at interpreter exit; after a
    session that opened connections on many threads (dbt's, the endpoint's, the loader's
    workers) that teardown has crashed with SIGSEGV after every test had passed, turning a
    green run red. Every test closes its clients and the data directory is a temporary one,
    so nothing is lost by skipping it; the exit status is pytest's own.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
