"""Slim CI (scripts/ci_changes.py) on a copy of the project in its own git repository: a change
builds and tests exactly what it touches and everything downstream, and fails naming what broke."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.ci_speed import commit_everything
from loaders.config import PROJECT_DIR

BIN = Path(sys.executable).parent


@dataclass
class Repo:
    path: Path
    cache: Path
    base: str

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.path, check=True, capture_output=True, text=True
        ).stdout

    def ci(self, tmp: Path) -> tuple[int, str, list[dict[str, object]]]:
        artifacts = tmp / "artifacts"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORES_", "DBT_"))}
        result = subprocess.run(
            [
                sys.executable,
                str(self.path / "scripts" / "ci_changes.py"),
                "--base",
                self.base,
                "--rows",
                "3000",
                "--artifacts",
                str(artifacts),
                "--cache",
                str(self.cache),
            ],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        results_file = artifacts / "run_results.json"
        results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
        return result.returncode, result.stdout + result.stderr, results

    def downstream(self, selector: str) -> set[str]:
        """Models and seeds `dbt ls` selects for ``selector`` in the changed project."""
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(self.path / "profiles"),
            "SCORES_CHDB_PATH": str(self.path / "ls"),
        }
        output = subprocess.run(
            [
                str(BIN / "dbt"),
                "ls",
                "--select",
                selector,
                "--resource-type",
                "model",
                "seed",
                "--output",
                "json",
                "--quiet",
                "--target-path",
                str(self.path / "target-ls"),
            ],
            cwd=self.path,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return {json.loads(line)["unique_id"] for line in output.splitlines() if line.startswith("{")}

    def restore(self) -> None:
        self.git("checkout", "--", ".")
        self.git("clean", "-fdq", "--", "models", "macros", "seeds", "tests")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    path = tmp_path_factory.mktemp("ci") / "project"
    files = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_DIR, check=True, capture_output=True, text=True
    ).stdout
    for name in files.splitlines():
        source = PROJECT_DIR / name
        if source.is_file() and not name.startswith(("docs/", "benchmarks/results/")):
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / name)
    base = commit_everything(path)
    return Repo(path, tmp_path_factory.mktemp("ci-cache"), base)


def _ran(results: list[dict[str, object]], kinds: tuple[str, ...] = ("model.", "seed.")) -> set[str]:
    return {
        str(r["unique_id"])
        for r in results
        if str(r["unique_id"]).startswith(kinds) and r["status"] != "skipped"
    }


def _tests_ran(results: list[dict[str, object]]) -> set[str]:
    return {str(r["unique_id"]) for r in results if str(r["unique_id"]).startswith(("test.", "unit_test."))}


def test_an_untouched_project_is_a_passing_no_op(repo: Repo, tmp_path: Path) -> None:
    code, output, results = repo.ci(tmp_path)
    assert code == 0, output
    assert "nothing to build" in output
    assert results == []


def test_a_changed_model_builds_it_and_its_children_only(repo: Repo, tmp_path: Path) -> None:
    model = repo.path / "models" / "marts" / "agg_district_scores.sql"
    model.write_text(model.read_text() + "\n-- a reviewed change\n")
    try:
        code, output, results = repo.ci(tmp_path)
        assert code == 0, output
        expected = repo.downstream("agg_district_scores+")
        assert _ran(results) == expected
        assert "model.student_scores.agg_district_scores" in expected
        assert "model.student_scores.fct_student_scores" not in expected
        tested = _tests_ran(results)
        assert tested, "the changed model's tests ran"
        assert all(any(name.split(".")[-1] in t for name in expected) or "district" in t for t in tested)
    finally:
        repo.restore()


def test_a_changed_seed_builds_and_tests_what_reads_it(repo: Repo, tmp_path: Path) -> None:
    seed = repo.path / "seeds" / "subjects.csv"
    seed.write_text(seed.read_text().rstrip("\n") + "\nCIX,CI extra subject,Extra\n")
    try:
        code, output, results = repo.ci(tmp_path)
        assert code == 0, output
        assert _ran(results) == repo.downstream("subjects+")
        assert any("relationships" in t and "subjects" in t for t in _tests_ran(results))
    finally:
        repo.restore()


def test_a_changed_macro_builds_the_models_that_use_it(repo: Repo, tmp_path: Path) -> None:
    macros = repo.path / "macros" / "serving.sql"
    text = macros.read_text()
    macros.write_text(
        text.replace(
            "{% macro report_rows_type(row) -%}", "{% macro report_rows_type(row) -%}\n    {#- reviewed -#}"
        )
    )
    try:
        code, output, results = repo.ci(tmp_path)
        assert code == 0, output
        ran = _ran(results)
        assert "model.student_scores.dict_classroom_report" in ran
        assert "model.student_scores.fct_student_scores" not in ran
        assert "model.student_scores.agg_classroom_scores" not in ran
    finally:
        repo.restore()


def test_a_failing_test_and_a_broken_model_fail_the_job_by_name(repo: Repo, tmp_path: Path) -> None:
    (repo.path / "tests" / "assert_ci_breaks.sql").write_text(
        "select district_id from {{ ref('agg_district_scores') }}\n"
    )
    model = repo.path / "models" / "marts" / "agg_district_grade_scores.sql"
    text = model.read_text()
    broken = text.replace(
        "ref('score_bands'), group_columns,", "ref('score_bands'), group_columns + ['no_such_column'],"
    )
    assert broken != text, "the model no longer has the text this test breaks"
    model.write_text(broken)
    try:
        code, output, _ = repo.ci(tmp_path)
        assert code == 1
        assert "FAIL test.student_scores.assert_ci_breaks" in output
        assert "FAIL model.student_scores.agg_district_grade_scores" in output
    finally:
        repo.restore()
