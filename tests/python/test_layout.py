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


def _module_imports(path: Path, package: str) -> set[str]:
    """The modules of ``package`` a file imports, at any depth (``from package import module``
    and ``from package.module import name`` alike)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules = {p.stem for p in (PROJECT_DIR / package).glob("*.py")}
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(package + "."):
                names.add(node.module.split(".")[1])
            elif node.module == package:
                names |= {a.name for a in node.names if a.name in modules}
    return names


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports in ``graph`` (module -> the modules it imports), or None."""
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> list[str] | None:
        if module in trail:
            return [*trail[trail.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, set())):
            found = visit(imported, [*trail, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_no_import_circle_inside_a_package() -> None:
    for package in ALLOWED:
        graph = {
            path.stem: _module_imports(path, package) - {path.stem}
            for path in (PROJECT_DIR / package).glob("*.py")
        }
        circle = _circle(graph)
        assert circle is None, f"{package}: import circle {' -> '.join(circle or [])}"
    assert _circle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
