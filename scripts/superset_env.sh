#!/usr/bin/env bash
# Superset's own virtual environment, apart from the project's (Superset and dbt pin conflicting
# packages): .venv-superset, installed from bi/superset/requirements.txt and reinstalled when that
# file changes (a stamp file keyed on its hash, like scripts/bootstrap.sh). Source it or run it:
#   source scripts/superset_env.sh      # then: "$SUPERSET" --help
#   scripts/superset_env.sh             # only make sure the environment is there
# Exports SUPERSET_VENV, SUPERSET (the CLI), SUPERSET_PYTHON, SUPERSET_CONFIG_PATH, FLASK_APP and
# SCORES_SUPERSET_HOME (where Superset keeps its metadata; default data/superset). Needs Python
# 3.11 or 3.12 and PyPI.

_superset_env_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_superset_env_install() (
    set -euo pipefail
    root="$1"
    venv="$2"
    python="${PYTHON:-python3}"
    requirements="$root/bi/superset/requirements.txt"
    stamp="$venv/.installed-$(sha256sum "$requirements" | cut -c1-16)"
    [ -f "$stamp" ] && exit 0
    if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then
        echo "error: Superset needs Python 3.11 or 3.12 (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "==> setting up $venv (first run, or bi/superset/requirements.txt changed)" >&2
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    # not part of the repository (for git, and for ruff, which follows .gitignore files)
    echo '*' > "$venv/.gitignore"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    rm -f "$venv"/.installed-*
    touch "$stamp"
)

SUPERSET_VENV="${SCORES_SUPERSET_VENV:-$_superset_env_root/.venv-superset}"
if _superset_env_install "$_superset_env_root" "$SUPERSET_VENV"; then
    export SUPERSET_VENV
    export SUPERSET="$SUPERSET_VENV/bin/superset"
    export SUPERSET_PYTHON="$SUPERSET_VENV/bin/python"
    export SUPERSET_CONFIG_PATH="$_superset_env_root/bi/superset/superset_config.py"
    export FLASK_APP=superset
    export SCORES_SUPERSET_HOME="${SCORES_SUPERSET_HOME:-$_superset_env_root/data/superset}"
    unset _superset_env_root
    unset -f _superset_env_install
else
    unset _superset_env_root
    unset -f _superset_env_install
    echo "error: could not set up the Superset environment" >&2
    # sourced: leave the caller's shell open; executed: fail
    return 1 2>/dev/null || exit 1
fi
