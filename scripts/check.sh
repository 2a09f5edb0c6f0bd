#!/usr/bin/env bash
# Every check: SQL lint, Python lint and types, the pytest suite (real chDB, dbt and Superset), and
# a dbt build into a fresh temporary data directory. CI runs exactly this (.ci/run).
source "$(dirname "$0")/bootstrap.sh"

step() { echo; echo "==> $*"; }
started=$SECONDS

step "sqlfluff lint (clickhouse dialect)"
sqlfluff lint models macros tests/*.sql tests/generic --disable-progress-bar

step "ruff"
ruff check .
ruff format --check .

step "mypy"
mypy

if [ "${SCORES_SKIP_SUPERSET:-0}" = "1" ]; then
    # the gate without the Superset tests (`python -m benchmarks.ci_speed` compares the slim CI with this)
    step "Superset tests skipped (SCORES_SKIP_SUPERSET=1)"
else
    step "Superset environment (.venv-superset, for the Superset tests)"
    "$(dirname "$0")/superset_env.sh"
    export SCORES_REQUIRE_SUPERSET=1
fi

step "pytest"
pytest -q

step "dbt build into a fresh temporary data directory"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export SCORES_CHDB_PATH="$tmp/chdb"
scores generate --rows 20000 --quiet
dbt build --quiet
dbt source freshness --quiet
dbt docs generate --quiet >/dev/null
echo "dbt build, source freshness and docs OK ($SCORES_CHDB_PATH)"

step "project rules (documentation, keys, layers, sources, exposures, macros)"
python scripts/project_rules.py --target-path target

echo; echo "all checks passed in $((SECONDS - started))s"
