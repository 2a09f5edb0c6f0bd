"""The Python packages import one another in one direction only (no circle), read from their
source with the standard library's parser: engine <- loaders <- endpoint <- api <- cli, and the
dbt adapter plugin needs only the engine."""

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


def _module_imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` that a file of it imports (``from package.x import``,
    ``from package import x``, ``import package.x``), at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == package:
                names |= {alias.name for alias in node.names}
            elif node.module.startswith(package + "."):
                names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")}
    return names


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of a module graph (its modules, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, set())):
            circle = visit(imported, [*path, module])
            if circle:
                return circle
        done.add(module)
        return None

    return next((c for m in sorted(graph) if (c := visit(m, [])) is not None), None)


def test_the_modules_of_a_package_import_one_another_without_a_circle() -> None:
    for package in ALLOWED:
        graph = {path.stem: _module_imports(path, package) for path in (PROJECT_DIR / package).glob("*.py")}
        circle = _circle(graph)
        assert circle is None, f"{package}: import circle {' -> '.join(circle)}"
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]  # the check sees one
