#!/usr/bin/env bash
# Slim CI for a change: lint what changed, build and test what changed and everything downstream
# of it on a fresh embedded warehouse, deferring unchanged parents to the base branch's manifest.
#   scripts/ci_changes.sh [--base origin/main] [--rows 20000]
# Details: scripts/ci_changes.py. The GitHub workflow .github/workflows/dbt-ci.yml runs exactly this.
source "$(dirname "$0")/bootstrap.sh"
exec python "$ROOT/scripts/ci_changes.py" "$@"
