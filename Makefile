# Shortcuts over the project's environment (scripts/bootstrap.sh makes it on first use).
# `scripts/check.sh` stays the gate that CI runs (.ci/run); these run parts of it.
#   make lint         sqlfluff, ruff, mypy
#   make unit         pure functions, no engine (seconds)
#   make integration  the real engine and dbt in this process
#   make e2e          real servers in other processes: scores serve, Superset, dbt over HTTP
#   make check        everything (scripts/check.sh)
#   make demo         the main job on the embedded engine (scripts/demo.sh)
SHELL := bash
RUN := source scripts/bootstrap.sh &&

.PHONY: lint unit integration e2e check demo

lint:
	$(RUN) sqlfluff lint models macros tests/*.sql tests/generic --disable-progress-bar && ruff check . && ruff format --check . && mypy

unit:
	$(RUN) pytest -q -m unit

integration:
	$(RUN) pytest -q -m integration

e2e:
	$(RUN) scripts/superset_env.sh && SCORES_REQUIRE_SUPERSET=1 pytest -q -m e2e

check:
	scripts/check.sh

demo:
	scripts/demo.sh
