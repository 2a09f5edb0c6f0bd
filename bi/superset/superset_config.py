"""Superset configuration for the student-scores marts (loaded through SUPERSET_CONFIG_PATH).

Everything Superset keeps (users, database connections, datasets, charts, dashboards) goes to a
SQLite file in SCORES_SUPERSET_HOME (default: data/superset in the repository, which git ignores).
No example data is loaded. The REST API works with a login token: POST /api/v1/security/login
gives an access token; requests that change something also send the CSRF token from
GET /api/v1/security/csrf_token/ (X-CSRFToken header, same cookie session), as Superset's own
frontend does.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = os.environ.get("SCORES_SUPERSET_HOME") or str(_ROOT / "data" / "superset")
Path(DATA_DIR).mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SUPERSET_SECRET_KEY if set, else a random key made once and kept beside the metadata.

    The key encrypts the database passwords stored in the metadata, so it must stay the same
    for a given SCORES_SUPERSET_HOME.
    """
    configured = os.environ.get("SUPERSET_SECRET_KEY")
    if configured:
        return configured
    path = Path(DATA_DIR) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(42))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{Path(DATA_DIR) / 'superset.db'}?check_same_thread=false"
SQLALCHEMY_EXAMPLES_URI = SQLALCHEMY_DATABASE_URI

# CSRF stays on for the browser; API clients fetch a token (see the module docstring).
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None

# No Redis: no caches (every chart query goes to the warehouse).
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

# The dashboards are imported from bi/superset/dashboards (Superset's export format).
FEATURE_FLAGS: dict[str, bool] = {}

# A mart query over the endpoint takes well under a second on demo data; fail fast if stuck.
SQLLAB_TIMEOUT = 60
SUPERSET_WEBSERVER_TIMEOUT = 120
ROW_LIMIT = 50000
