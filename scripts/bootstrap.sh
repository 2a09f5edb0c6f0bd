# Sourced by the other scripts: a project-local virtual environment with everything installed
# (pyproject.toml, extras "dev" and "bench", at the versions of requirements.lock), reinstalled
# when either changes; then PATH and the dbt profile directory point at the project. Needs only
# Python >= 3.11 and access to PyPI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SCORES_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "==> setting up $VENV (first run, or pyproject.toml or requirements.lock changed)" >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
    # the versions of requirements.lock: every fresh machine gets the environment CI tested
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$ROOT/requirements.lock" -e "$ROOT[dev,bench]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi

export PATH="$VENV/bin:$PATH"
export DBT_PROFILES_DIR="$ROOT/profiles"
cd "$ROOT"
