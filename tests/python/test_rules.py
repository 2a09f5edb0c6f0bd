"""The rules that must be written twice, once for the loaders (Python) and once for dbt (Jinja and
SQL), and the tests that hold each copy to its home.

Each rule has one home; the copies below cannot be avoided because dbt cannot import Python:
- the school-year calendar and retention: loaders/school_calendar.py (dbt: macros/retention.sql);
- the settings' defaults and bounds: loaders/config.py (dbt: dbt_project.yml's vars, the macros
  that check them, and .sqlfluff's stand-in vars);
- the input columns and their codecs: loaders/schema.py (dbt: the raw source's yml and
  macros/column_codecs.sql);
- the grades: seeds/grade_levels.csv, read by the loaders and loaded by dbt (no copy).

The dbt macros are rendered with Jinja itself, the way dbt renders them, and the SQL they give is
evaluated by the engine next to the Python rule.
"""

from __future__ import annotations

import configparser
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from loaders import config, school_calendar
from loaders.reference import load_reference
from loaders.schema import AUDIT_COLUMNS, BATCH_COLUMNS, INPUT_COLUMNS

ROOT = config.PROJECT_DIR


class CompilerError(Exception):
    pass


class _Return(Exception):  # noqa: N818 - dbt's own name for this control flow is MacroReturn
    def __init__(self, value: object) -> None:
        self.value = value


def _raise(message: str) -> None:
    raise CompilerError(message)


def _return(value: object) -> None:
    raise _Return(value)


_invoke = jinja2.runtime.Macro._invoke


def _invoke_returning(self: jinja2.runtime.Macro, arguments: list[Any], autoescape: bool) -> Any:
    """A macro call gives what its `return()` passed, as in dbt (dbt's MacroGenerator)."""
    try:
        return _invoke(self, arguments, autoescape)
    except _Return as returned:
        return returned.value


def dbt_macros(file: str, variables: dict[str, object]) -> Callable[..., Any]:
    """The macros of macros/<file> as dbt would call them, with `var()` answering `variables`."""
    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    template = environment.from_string((ROOT / "macros" / file).read_text())
    module = template.make_module(
        {
            "var": lambda name, default=None: variables.get(name, default),
            "exceptions": type("exceptions", (), {"raise_compiler_error": staticmethod(_raise)}),
            "return": _return,
            "execute": False,
        }
    )

    def call(name: str, *args: object, **kwargs: object) -> Any:
        # only while these macros run: dbt renders its own macros in this process too
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(jinja2.runtime.Macro, "_invoke", _invoke_returning)
            result = getattr(module, name)(*args, **kwargs)
        return result.strip() if isinstance(result, str) else result

    return call


@pytest.fixture
def evaluate(warehouse) -> Callable[[str], str]:
    """The value of a ClickHouse expression, as text, from the engine."""
    return lambda sql: str(warehouse.scalar(f"SELECT toString({sql})"))


# -- the school-year calendar and retention -----------------------------------------------------------


@pytest.mark.parametrize("years", [1, 5, 30, 100])
def test_the_dbt_retention_ttl_is_the_loaders(years):
    macros = dbt_macros("retention.sql", {"retention_years": str(years)})
    assert macros("retention_ttl") == school_calendar.expiry_sql(years)


@pytest.mark.parametrize(
    "today",
    [
        dt.date(2026, 6, 30),
        dt.date(2026, 7, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 31),
        dt.date(2030, 7, 2),
    ],
)
@pytest.mark.parametrize("years", [1, 5, 12])
def test_the_dbt_retention_cutoff_is_the_loaders(evaluate, today, years):
    macros = dbt_macros("retention.sql", {"retention_years": str(years)})
    cutoff = macros("retention_cutoff_year", today=f"toDate('{today.isoformat()}')")
    assert int(evaluate(cutoff)) == school_calendar.retained_from(years, today)


@pytest.mark.parametrize("year", [2001, 2025, 2100])
def test_the_expiry_day_is_the_first_day_after_the_retention_period(evaluate, year):
    expires = evaluate(school_calendar.expiry_sql(5, str(year)))
    assert dt.date.fromisoformat(expires) == school_calendar.last_day(year + 5) + dt.timedelta(days=1)
    assert school_calendar.retained_from(5, dt.date.fromisoformat(expires)) == year + 1
    assert school_calendar.retained_from(5, dt.date.fromisoformat(expires) - dt.timedelta(days=1)) == year


@pytest.mark.parametrize(
    "day", [dt.date(2024, 6, 30), dt.date(2024, 7, 1), dt.date(2025, 6, 30), dt.date(2025, 7, 1)]
)
def test_a_date_is_outside_every_school_year_but_its_own(evaluate, day):
    own = school_calendar.school_year_of(day)
    assert school_calendar.first_day(own) <= day <= school_calendar.last_day(own)
    for year in (own - 1, own, own + 1):
        outside = evaluate(school_calendar.outside_sql(f"toDate('{day.isoformat()}')", str(year)))
        assert outside == ("0" if year == own else "1"), (day, year)


# -- settings: defaults and bounds ------------------------------------------------------------------


def _dbt_var_defaults() -> dict[str, str]:
    """The defaults of dbt_project.yml's vars that read an environment variable."""
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    defaults = {}
    for value in project["vars"].values():
        found = re.fullmatch(r"\{\{ env_var\('(\w+)', '([^']*)'\) \}\}", str(value))
        if found:
            defaults[found[1]] = found[2]
    return defaults


def _sqlfluff_var_defaults() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / ".sqlfluff")
    return parser["sqlfluff:templater:jinja:macros"]["var"]


@pytest.mark.parametrize(
    ("variable", "var", "default"),
    [
        ("SCORES_RETENTION_YEARS", "retention_years", config.DEFAULT_RETENTION_YEARS),
        ("SCORES_MIN_GROUP_SIZE", "min_group_size", config.DEFAULT_MIN_GROUP_SIZE),
    ],
)
def test_dbt_and_the_linter_default_the_settings_as_the_loaders_do(variable, var, default):
    assert _dbt_var_defaults()[variable] == str(default)
    assert f"'{var}': '{default}'" in _sqlfluff_var_defaults()


@pytest.mark.parametrize(
    ("file", "macro", "var", "bounds"),
    [
        ("retention.sql", "retention_years", "retention_years", config.RETENTION_YEARS_RANGE),
        ("suppression.sql", "min_group_size", "min_group_size", config.MIN_GROUP_SIZE_RANGE),
    ],
)
def test_dbt_accepts_exactly_the_settings_the_loaders_accept(file, macro, var, bounds):
    low, high = bounds
    for value in (low, high):
        assert dbt_macros(file, {var: str(value)})(macro) == value
    for value in (low - 1, high + 1, "ten", "1.5"):
        if value == -1:  # the loaders refuse a sign as text; dbt sees the same text
            value = "-1"
        with pytest.raises(CompilerError, match=f"from {low} to {high}"):
            dbt_macros(file, {var: str(value)})(macro)


# -- the input columns and their codecs -----------------------------------------------------------


def _source_columns(table: str) -> list[str]:
    sources = yaml.safe_load((ROOT / "models" / "staging" / "_raw__sources.yml").read_text())
    (raw,) = (s for s in sources["sources"] if s["name"] == "raw")
    (found,) = (t for t in raw["tables"] if t["name"] == table)
    return [c["name"] for c in found["columns"]]


def test_the_raw_sources_document_the_loaders_columns_in_order():
    landed = [c.name for c in (*INPUT_COLUMNS, *BATCH_COLUMNS)]
    assert _source_columns("student_scores") == [*landed, "_loaded_at"]
    # the audit's source documents the columns dbt reads, each one the loaders write
    assert set(_source_columns("load_audit")) <= set(AUDIT_COLUMNS)


def test_the_per_score_models_compress_the_columns_the_ledger_compresses():
    codecs = {c.name: c.codec for c in (*INPUT_COLUMNS, *BATCH_COLUMNS) if c.codec}
    macros = dbt_macros("column_codecs.sql", {})
    assert macros("per_score_column_codecs", with_row_number=True) == codecs
    assert macros("per_score_column_codecs") == {n: c for n, c in codecs.items() if not n.startswith("_")}


# -- the grades ---------------------------------------------------------------------------------------


def test_the_grades_are_the_seeds():
    levels = load_reference().grade_levels
    assert load_reference().grades == (levels[0].grade, levels[-1].grade)
    assert [g.grade for g in levels] == list(range(levels[0].grade, levels[-1].grade + 1))


def test_a_gap_in_the_grades_seed_is_refused(tmp_path: Path):
    for seed in ROOT.joinpath("seeds").glob("*.csv"):
        tmp_path.joinpath(seed.name).write_text(seed.read_text())
    lines = tmp_path.joinpath("grade_levels.csv").read_text().splitlines()
    tmp_path.joinpath("grade_levels.csv").write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    with pytest.raises(ValueError, match=r"grade_levels\.csv: grades must be consecutive"):
        load_reference(tmp_path)
