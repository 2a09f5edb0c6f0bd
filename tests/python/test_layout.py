"""The Python packages import one another in one direction only (no circle), read from their
source with the standard library's parser: engine <- loaders <- endpoint <- api <- cli, the
dbt adapter plugin needs only the engine, and the benchmarks sit beside cli (nothing imports them)."""

from __future__ import annotations

import ast
from pathlib import Path

from loaders.config import PROJECT_DIR

# package -> the project's packages it may import (its layers below)
ALLOWED = {
    "engine": set(),
    "loaders": {"engine"},
    "endpoint": {"engine", "loaders"},
    "api": {"engine", "loaders", "endpoint"},
    "cli": {"engine", "loaders", "endpoint", "api"},
    "adapter": {"engine"},
    "benchmarks": {"engine", "loaders", "endpoint", "api"},
}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module a file imports, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_packages_import_downwards_only() -> None:
    found: dict[str, set[str]] = {}
    for package in ALLOWED:
        files = list((PROJECT_DIR / package).rglob("*.py"))
        assert files, package
        for path in files:
            ours = _imports(path) & set(ALLOWED)
            ours.discard(package)
            if package == "adapter":
                ours.discard("dbt")
            found.setdefault(package, set()).update(ours)
            wrong = ours - ALLOWED[package]
            assert not wrong, f"{path.relative_to(PROJECT_DIR)} imports {sorted(wrong)}"
    # the layers are really used as drawn (a rule nothing exercises would pass by accident)
    assert found["endpoint"] >= {"engine", "loaders"}
    assert found["cli"] >= {"loaders", "endpoint", "api"}
    assert found["adapter"] == {"engine"}
    assert found["benchmarks"] >= {"engine", "loaders", "api"}
