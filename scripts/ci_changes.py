"""Slim CI: lint what changed, build and test what changed and everything downstream of it.

    scripts/ci_changes.sh [--base REF] [--rows N] [--artifacts DIR]

The same on a laptop and in CI (.github/workflows/dbt-ci.yml):

1. The files that differ from the merge base of HEAD and ``--base`` (default: origin/main, else
   main), the working tree included.
2. Lint: the changed SQL with sqlfluff (models, macros, tests), the changed Python with
   ruff; mypy when any Python changed.
3. Production artifacts: the manifest of the base commit, parsed in a git worktree of it and
   cached in ``.ci-cache/manifests/<base sha>/`` (CI keeps that folder between runs).
4. A fresh embedded warehouse (a temporary chDB directory) with generated scores (``--rows``,
   default 20,000: every data test and unit test has rows to bite on).
5. The unchanged parents of the changed nodes, built from the base commit into the schema
   ``ci_prod`` of that warehouse: the production relations that the changed nodes defer to.
6. ``dbt build --select state:modified+ --defer --state <base manifest>`` into the schema
   ``ci_change``: the changed models, seeds and the dependents of changed macros, everything
   downstream of them, and their tests.
7. The project's rules (scripts/project_rules.py) on the changed project.
8. A summary naming every failing model or test; exit 1 if anything failed. No change: exit 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import project_rules  # noqa: E402 (a sibling script)

BIN = Path(sys.executable).parent
SQL_FOLDERS = ("models/", "macros/", "tests/")
PROD_SCHEMA, CHANGE_SCHEMA, RAW_SCHEMA = "ci_prod", "ci_change", "ci_raw"
# one build-state database for both schemas: a source that named each its own would differ
# between the base's manifest and the change's, and mark every model downstream as modified;
# the two builds never share a model (the change's models, and the base's unselected parents)
STATE_SCHEMA = "ci_state"


def _run(
    command: Sequence[str], cwd: Path = ROOT, env: dict[str, str] | None = None, check: bool = True
) -> str:
    result = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise CiError(f"`{' '.join(command)}` failed:\n{(result.stdout + result.stderr)[-6000:]}")
    return result.stdout


class CiError(Exception):
    """A step that could not run (not a failing model or test: those are reported as such)."""


def _git(*args: str) -> str:
    return _run(["git", *args]).strip()


def base_commit(base: str | None) -> str | None:
    """The merge base of HEAD and the base branch (None: no history to compare with)."""
    candidates = [base] if base else ["origin/main", "main"]
    for candidate in candidates:
        if (
            candidate
            and subprocess.run(
                ["git", "rev-parse", "--verify", "--quiet", candidate], cwd=ROOT, capture_output=True
            ).returncode
            == 0
        ):
            return _git("merge-base", "HEAD", candidate)
    if base:
        raise CiError(f"base {base!r} is not a commit of this repository")
    return None


def changed_files(base: str | None) -> list[str]:
    if base is None:
        return _git("ls-files").splitlines()
    changed = set(_git("diff", "--name-only", "--diff-filter=ACMR", base).splitlines())
    changed |= set(_git("ls-files", "--others", "--exclude-standard").splitlines())
    return sorted(name for name in changed if (ROOT / name).exists())


def lint(files: list[str]) -> list[str]:
    """Lint the changed files; the failures, as lines of the summary."""
    failures = []
    sql = [f for f in files if f.endswith(".sql") and f.startswith(SQL_FOLDERS)]
    python = [f for f in files if f.endswith(".py")]
    if sql:
        result = subprocess.run(
            [str(BIN / "sqlfluff"), "lint", "--disable-progress-bar", *sql],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            failures.append("sqlfluff:\n" + result.stdout[-4000:])
    if python:
        for command in (["ruff", "check", *python], ["ruff", "format", "--check", *python], ["mypy"]):
            result = subprocess.run(
                [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True
            )
            if result.returncode != 0:
                what = " ".join(command[:2]) if len(command) > 2 else command[0]
                failures.append(f"{what}:\n{(result.stdout + result.stderr)[-4000:]}")
    return failures


def _dbt_env(schema: str, warehouse: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SCORES_TARGET": "dev",
        "SCORES_CHDB_PATH": str(warehouse),
        "SCORES_DATABASE": schema,
        "SCORES_RAW_DATABASE": RAW_SCHEMA,
        "SCORES_STATE_DATABASE": STATE_SCHEMA,
        "DBT_PROFILES_DIR": str(ROOT / "profiles"),
    }


def base_manifest(base: str, cache: Path, warehouse: Path) -> Path:
    """The base commit's manifest (parsed with the production schema), from the cache if there."""
    target = cache / base
    if (target / "manifest.json").exists():
        return target
    with _worktree(base, Path(tempfile.mkdtemp(prefix="ci-base-")) / "base") as worktree:
        parse = [
            "parse",
            "--quiet",
            "--project-dir",
            str(worktree),
            "--target-path",
            str(worktree / "target"),
        ]
        _run([str(BIN / "dbt"), *parse], cwd=worktree, env=_dbt_env(PROD_SCHEMA, warehouse))
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(worktree / "target" / "manifest.json", target / "manifest.json")
    return target


@contextlib.contextmanager
def _worktree(commit: str, path: Path) -> Iterator[Path]:
    """A checkout of ``commit`` at ``path`` (a git worktree), removed afterwards."""
    _git("worktree", "add", "--detach", str(path), commit)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


def _dbt_json(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> list[dict[str, object]]:
    output = _run([str(BIN / "dbt"), *args, "--output", "json", "--quiet"], cwd=cwd, env=env)
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="branch or commit to compare with (default origin/main, else main)")
    parser.add_argument("--rows", type=int, default=20_000, help="generated scores in the CI warehouse")
    parser.add_argument(
        "--artifacts", type=Path, default=ROOT / "target" / "ci", help="where run_results.json goes"
    )
    parser.add_argument("--cache", type=Path, default=ROOT / ".ci-cache" / "manifests")
    args = parser.parse_args()
    try:
        sys.exit(run(args.base, args.rows, args.artifacts, args.cache))
    except CiError as ex:
        print(f"ci: error: {ex}", file=sys.stderr)
        sys.exit(2)


def run(base_ref: str | None, rows: int, artifacts: Path, cache: Path) -> int:
    base = base_commit(base_ref)
    files = changed_files(base)
    print(f"ci: {len(files)} changed file(s) against {base[:12] if base else 'an empty history'}")
    failures = lint(files)
    for failure in failures:
        print(f"ci: lint failed: {failure}")
    artifacts.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ci-work-"))
    # one fixed warehouse path: the dictionary models' configs carry it, so a manifest parsed
    # with another path would mark every dictionary as modified
    warehouse = cache.parent / "warehouse" / "chdb"
    shutil.rmtree(warehouse.parent, ignore_errors=True)
    try:
        change_env = _dbt_env(CHANGE_SCHEMA, warehouse)
        selection = ["--select", "state:modified+"]
        if base is None:
            selection = []
            state = None
        else:
            state = base_manifest(base, cache, warehouse)
        listed = _dbt_json(
            [
                "ls",
                *selection,
                *(["--state", str(state)] if state else []),
                *(
                    arg
                    for kind in ("model", "seed", "test", "unit_test", "snapshot")
                    for arg in ("--resource-type", kind)
                ),
                "--target-path",
                str(work / "target-ls"),
            ],
            change_env,
        )
        # the project's rules, on the changed project's manifest (dbt ls parsed it)
        if project_rules.check(work / "target-ls") != 0:
            failures.append("project rules (scripts/project_rules.py)")
        if not listed:
            print("ci: no model, seed, test or macro changed: nothing to build")
            return 1 if failures else 0
        print(f"ci: {len(listed)} node(s) to build and test (state:modified+)")
        _run([str(BIN / "scores"), "generate", "--rows", str(rows), "--quiet"], env=change_env)
        if state is not None:
            selected = {str(node.get("unique_id")) for node in listed}
            build_parents(
                base or "", state, warehouse, work, unselected_parents(work / "target-ls", selected)
            )
        result = subprocess.run(
            [
                str(BIN / "dbt"),
                "build",
                *selection,
                *(["--defer", "--state", str(state)] if state else []),
                "--target-path",
                str(work / "target"),
                "--quiet",
            ],
            cwd=ROOT,
            env=change_env,
            capture_output=True,
            text=True,
        )
        run_results = work / "target" / "run_results.json"
        if run_results.exists():
            shutil.copy(run_results, artifacts / "run_results.json")
        failures += summarize(run_results, result.returncode, result.stdout + result.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(warehouse.parent, ignore_errors=True)
    if failures:
        print(f"ci: FAILED ({len(failures)})")
        return 1
    print("ci: passed")
    return 0


def unselected_parents(target: Path, selected: set[str]) -> list[str]:
    """The models and seeds the selected nodes read that are not selected themselves: the
    production relations the build defers to (a test of a changed model may read another)."""
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    parents = {
        parent
        for node_id in selected
        for parent in nodes.get(node_id, {}).get("depends_on", {}).get("nodes", [])
        if parent.startswith(("model.", "seed.")) and parent not in selected
    }
    return sorted(parent.split(".")[-1] for parent in parents)


def build_parents(base: str, state: Path, warehouse: Path, work: Path, parents: list[str]) -> None:
    """Build, from the base commit, the production relations the change defers to (the unselected
    parents and their ancestors), into the production schema of the CI warehouse."""
    manifest = json.loads((state / "manifest.json").read_text())
    in_base = {
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] in ("model", "seed")
    }
    selection = [f"+{name}" for name in parents if name in in_base]
    if not selection:
        return
    build = [
        "build",
        "--project-dir",
        "{worktree}",
        "--target-path",
        str(work / "target-base"),
        "--quiet",
        "--resource-type",
        "model",
        "--resource-type",
        "seed",
        "--select",
        *selection,
    ]
    with _worktree(base, work / "base") as worktree:
        command = [str(BIN / "dbt"), *(str(worktree) if arg == "{worktree}" else arg for arg in build)]
        _run(command, cwd=worktree, env=_dbt_env(PROD_SCHEMA, warehouse))


def summarize(run_results: Path, returncode: int, output: str) -> list[str]:
    """The failing nodes of a dbt run, one line each (or dbt's own error if it did not run)."""
    if not run_results.exists():
        return [f"dbt build did not run:\n{output[-4000:]}"] if returncode else []
    failures = []
    results = json.loads(run_results.read_text())["results"]
    built = [r for r in results if r["status"] not in ("skipped",)]
    print(f"ci: dbt build: {len(built)} node(s) ran, {len(results) - len(built)} skipped")
    for result in results:
        if result["status"] in ("error", "fail", "runtime error"):
            message = (result.get("message") or "").strip().splitlines()
            failures.append(f"{result['unique_id']}: {result['status']}: {message[0] if message else ''}")
            print(f"ci: FAIL {result['unique_id']} ({result['status']}): {' '.join(message)[:500]}")
    if returncode and not failures:
        failures.append(f"dbt build exited {returncode}:\n{output[-4000:]}")
    return failures


if __name__ == "__main__":
    main()
