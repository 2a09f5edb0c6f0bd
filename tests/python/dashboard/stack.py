"""What the Superset tests share with the `stack` fixture (conftest.py): the endpoint's users, the
Superset client module (bi/superset/scores_superset.py), scripts/superset.sh, and the Stack."""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from clickhouse_connect.driver.client import Client

from loaders.config import PROJECT_DIR

ROOT = PROJECT_DIR
ROWS = 20_000
# whole classes of 18 to 32 students: a minimum of 25 hides some groups (and bands) in every chart
MIN_GROUP_SIZE = 25
BI_USER, BI_PASSWORD = "bi", "bi-pass"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-test-pass"


def _load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scores_superset", ROOT / "bi" / "superset" / "scores_superset.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tools = _load_tools()


def run(command: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> None:
    with log.open("w") as out:
        done = subprocess.run(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=ROOT
        )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{log.read_text()[-4000:]}")


def superset_sh(*args: str, env: dict[str, str], log: Path) -> None:
    """One of the documented commands, `scripts/superset.sh ARGS`."""
    run(["bash", str(ROOT / "scripts" / "superset.sh"), *args], env, log)


@dataclass
class Stack:
    endpoint_port: int
    superset_url: str
    api: Any  # scores_superset.Superset, of a module loaded from its path
    mart: Client
    logs: Path
    env: dict[str, str]
    in_process_copy: Path  # a copy of the warehouse that only Superset opens

    @property
    def database_uri(self) -> str:
        return f"clickhousedb://{BI_USER}:{BI_PASSWORD}@127.0.0.1:{self.endpoint_port}/scores"
