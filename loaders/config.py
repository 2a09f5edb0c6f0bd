"""Where the warehouse lives: embedded chDB directory or a ClickHouse server, from the environment.

The same variables drive the dbt profile (profiles/profiles.yml), so the loaders and dbt always
point at the same warehouse:

    SCORES_TARGET        dev (embedded chDB, default) | server
    SCORES_CHDB_PATH     chDB data directory for dev (default data/chdb; relative to the project)
    SCORES_RAW_DATABASE  database the loaders land rows in (default scores_raw)
    SCORES_DATABASE      database dbt builds the models in (default scores)
    SCORES_STATE_DATABASE  database of dbt's build state (default SCORES_DATABASE; the source
                         build_state in models/staging/_build_state__sources.yml)
    SCORES_RETENTION_YEARS  years a school year stays after it ends (default 5, 1 to 100; dbt
                         uses it too)
    SCORES_MIN_GROUP_SIZE   published groups of fewer students are suppressed (default 10, 0 to
                         1000, 0 turns it off; dbt's var min_group_size reads it too)
    SCORES_GZIP_MAX_RATIO   how many times its size a .parquet.gz may decompress to (default 100)
    CLICKHOUSE_HOST, CLICKHOUSE_PORT, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_SECURE
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from loaders import school_calendar

PROJECT_DIR = Path(__file__).resolve().parent.parent

# The one default of the retention period (the dbt models default to the same 5 when neither the
# var nor the variable is set, macros/retention.sql). More than a century is surely a typo.
DEFAULT_RETENTION_YEARS = 5
RETENTION_YEARS_RANGE = (1, 100)
# the most common state rule (NCES 2011-603); states use 5 to 30
DEFAULT_MIN_GROUP_SIZE = 10
MIN_GROUP_SIZE_RANGE = (0, 1000)
# A .parquet.gz is decompressed to a temporary file; beyond this many times its compressed size
# it is refused as a decompression bomb. Parquet is compressed already, so gzip gains little on
# it: a genuine file stays far below (deflate reaches about 1000:1 on repeated bytes).
DEFAULT_GZIP_MAX_RATIO = 100
GZIP_MAX_RATIO_RANGE = (1, 1_000_000)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _whole_number(name: str, default: int, bounds: tuple[int, int], what: str) -> int:
    """A whole-number setting from the environment; ValueError (a usage error) naming the
    variable for anything else: text, a sign, a fraction, a value out of bounds."""
    text = _env(name, str(default))
    low, high = bounds
    if not re.fullmatch(r"[0-9]{1,12}", text) or not low <= int(text) <= high:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"{name} must be a whole number of {what} from {low} to {high}, not {shown!r}")
    return int(text)


def retention_years() -> int:
    """SCORES_RETENTION_YEARS (default DEFAULT_RETENTION_YEARS)."""
    return _whole_number("SCORES_RETENTION_YEARS", DEFAULT_RETENTION_YEARS, RETENTION_YEARS_RANGE, "years")


def min_group_size() -> int:
    """SCORES_MIN_GROUP_SIZE (default DEFAULT_MIN_GROUP_SIZE; 0 turns suppression off): groups of
    fewer students are not published (the same setting as dbt's var min_group_size,
    macros/suppression.sql)."""
    return _whole_number("SCORES_MIN_GROUP_SIZE", DEFAULT_MIN_GROUP_SIZE, MIN_GROUP_SIZE_RANGE, "students")


def gzip_max_ratio() -> int:
    """SCORES_GZIP_MAX_RATIO (default DEFAULT_GZIP_MAX_RATIO)."""
    return _whole_number("SCORES_GZIP_MAX_RATIO", DEFAULT_GZIP_MAX_RATIO, GZIP_MAX_RATIO_RANGE, "times")


@dataclass(frozen=True)
class Settings:
    target: str
    chdb_path: Path
    raw_database: str
    database: str
    host: str
    port: int
    user: str
    password: str
    secure: bool
    retention_years: int = DEFAULT_RETENTION_YEARS
    gzip_max_ratio: int = DEFAULT_GZIP_MAX_RATIO
    state_database: str = ""

    @property
    def build_state_database(self) -> str:
        return self.state_database or self.database

    @classmethod
    def from_env(cls) -> Settings:
        target = _env("SCORES_TARGET", "dev")
        if target not in ("dev", "server"):
            raise ValueError(f"SCORES_TARGET must be 'dev' (embedded chDB) or 'server', not {target!r}")
        # relative paths resolve against the project directory, as in the dbt profile
        chdb_path = PROJECT_DIR / _env("SCORES_CHDB_PATH", "data/chdb")
        secure = _env("CLICKHOUSE_SECURE", "false").lower() in ("1", "true", "yes")
        port = _env("CLICKHOUSE_PORT", "8443" if secure else "8123")
        if not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
            raise ValueError(f"CLICKHOUSE_PORT must be a port number (1 to 65535), not {port[:40]!r}")
        return cls(
            target=target,
            chdb_path=chdb_path.resolve(),
            raw_database=_env("SCORES_RAW_DATABASE", "scores_raw"),
            database=_env("SCORES_DATABASE", "scores"),
            state_database=os.environ.get("SCORES_STATE_DATABASE", ""),
            host=_env("CLICKHOUSE_HOST", "localhost"),
            port=int(port),
            user=_env("CLICKHOUSE_USER", "default"),
            password=os.environ.get("CLICKHOUSE_PASSWORD", ""),
            secure=secure,
            retention_years=retention_years(),
            gzip_max_ratio=gzip_max_ratio(),
        )

    def retained_from(self, today: dt.date | None = None) -> int:
        return school_calendar.retained_from(self.retention_years, today)

    @property
    def engine_path(self) -> str | None:
        """The embedded engine's data directory, or None for a server."""
        return str(self.chdb_path) if self.embedded else None

    @property
    def embedded(self) -> bool:
        return self.target == "dev"

    def describe(self) -> str:
        if self.embedded:
            return f"embedded ClickHouse (chDB) in {self.chdb_path}"
        return f"ClickHouse server {self.host}:{self.port} as {self.user}"

    def connect(self) -> Client:
        """Open a client on the configured warehouse (see engine.embedded for the embedded case)."""
        if self.embedded:
            from engine.embedded import open_embedded_client

            return open_embedded_client(self.chdb_path)
        import clickhouse_connect

        return clickhouse_connect.get_client(
            host=self.host,
            port=self.port,
            username=self.user,
            password=self.password,
            secure=self.secure,
            connect_timeout=10,
            send_receive_timeout=600,
        )
