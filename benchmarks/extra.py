"""The benchmarks' own packages (DuckDB, psycopg, matplotlib): the `bench` extra of pyproject.toml,
installed by scripts/bootstrap.sh. A benchmark checks for them before it starts, so a missing one
stops it at once instead of after minutes of loading."""

from __future__ import annotations

import importlib.util


def require(*modules: str) -> None:
    """Exit naming the install command when one of ``modules`` cannot be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(
            f"the benchmarks need {', '.join(missing)}, not installed in this environment: "
            "run `source scripts/bootstrap.sh` (or any `make` target), which installs the `bench` "
            "extra of pyproject.toml at the versions of requirements.lock"
        )
