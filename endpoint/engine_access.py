"""The engine's own access rules for ``scores serve``: settings profiles, constraints, row policies.

chDB authenticates every connection as ``default`` (chdb-core's ChdbClient calls
``session->authenticate("default", ...)``), so the engine cannot tell the endpoint's users apart by
name. What it can enforce per connection, and what the endpoint relies on:

* **Limits the user cannot lift.** Each client connection is set up with its role's limits
  (``max_execution_time``, ``max_memory_usage``, ``max_result_rows``, ``max_result_bytes``), then
  ``SET profile`` merges the role's settings constraints (min 1, max the limit: 0 would mean
  unlimited), then readers get ``readonly = 1``. From then on the engine refuses any change of
  those settings, in ``SET``, a ``SETTINGS`` clause or a URL parameter.
* **Read-only.** ``readonly = 1`` makes the engine refuse every write, DDL, settings change and
  every table function not marked safe for read-only use.
* **Rows by scope.** Row policies in the users configuration filter the scoped tables for every
  query of a connection whose ``log_comment`` carries a scope (``scores-scope:<kind>:<ids>``); the
  endpoint sets it before ``readonly = 1`` and a constraint keeps it constant. Row policies apply
  wherever a table is read: through views, subqueries, ``merge()``, key-value and dictionary
  tables. ``dictGet`` does not go through them, so the endpoint refuses it to scoped users.

The configuration is written next to the data directory and passed to the engine as its
``config-file`` when the endpoint opens it; other processes (dbt in-process, the CLI) open the
directory without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from endpoint.parsing import string_literal

READER_PROFILE = "scores_reader"
WRITER_PROFILE = "scores_writer"
SCOPE_PREFIX = "scores-scope:"
# settings fixed for every client connection: parsing as the endpoint's parser does, no expression
# evaluation inside VALUES data (it would run functions the policy never saw), no introspection
FIXED_SETTINGS: dict[str, str] = {
    "dialect": "clickhouse",
    "enable_json_ast_dialect": "0",
    "input_format_values_interpret_expressions": "0",
    "input_format_values_deduce_templates_of_expressions": "0",
    "allow_introspection_functions": "0",
    "result_overflow_mode": "throw",
    "timeout_overflow_mode": "throw",
    # every connection runs as `default`: a cached result of one user must not answer another
    "use_query_cache": "0",
}


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 << 30


@dataclass(frozen=True)
class Limits:
    """Per-query limits of a role; the user can lower them, never raise or remove them."""

    max_execution_time: int  # seconds
    max_memory_usage: int  # bytes
    max_result_rows: int
    max_result_bytes: int

    def settings(self) -> dict[str, str]:
        return {
            "max_execution_time": str(self.max_execution_time),
            "max_memory_usage": str(self.max_memory_usage),
            "max_result_rows": str(self.max_result_rows),
            "max_result_bytes": str(self.max_result_bytes),
        }


# readers (BI tools, reports): a minute, a quarter of the memory, 10M rows or 1 GiB of result
READER_LIMITS = Limits(60, _memory_bytes() // 4, 10_000_000, 1 << 30)
# writers (dbt, loaders): an hour, three quarters of the memory (a 100M-row build needs about
# 8 GB), results of 100M rows or 4 GiB
WRITER_LIMITS = Limits(3600, _memory_bytes() * 3 // 4, 100_000_000, 4 << 30)


@dataclass(frozen=True)
class EngineAccess:
    """The users configuration of the endpoint's engine and the setup of each client connection."""

    directory: Path
    reader: Limits = READER_LIMITS
    writer: Limits = WRITER_LIMITS
    # (database, table) -> row filter for scoped connections (endpoint/scopes.py)
    row_policies: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.directory / "engine-config.xml"

    def write(self) -> Path:
        """Write the configuration files (atomically) and return the config file's path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        users = self.directory / "engine-users.xml"
        _write_atomic(users, self.users_xml())
        _write_atomic(
            self.config_file,
            f"<clickhouse>\n  <users_config>{escape(str(users))}</users_config>\n</clickhouse>\n",
        )
        return self.config_file

    def users_xml(self) -> str:
        return (
            "<clickhouse>\n  <profiles>\n    <default></default>\n"
            f"{_profile(READER_PROFILE, self.reader)}{_profile(WRITER_PROFILE, self.writer)}"
            "  </profiles>\n  <users>\n    <default>\n      <password></password>\n"
            "      <networks><ip>::/0</ip></networks>\n"
            "      <profile>default</profile>\n      <quota>default</quota>\n"
            f"{self._databases_xml()}"
            "    </default>\n  </users>\n  <quotas><default></default></quotas>\n</clickhouse>\n"
        )

    def _databases_xml(self) -> str:
        if not self.row_policies:
            return ""
        by_database: dict[str, list[str]] = {}
        for (database, table), condition in sorted(self.row_policies.items()):
            by_database.setdefault(database, []).append(
                f"          <{_tag(table)}><filter>{escape(condition)}</filter></{_tag(table)}>\n"
            )
        parts = ["      <databases>\n"]
        for database, tables in by_database.items():
            parts.append(f"        <{_tag(database)}>\n{''.join(tables)}        </{_tag(database)}>\n")
        parts.append("      </databases>\n")
        return "".join(parts)

    def setup(self, writes: bool, scope: str = "") -> tuple[list[str], list[str]]:
        """The statements that make a fresh engine connection a client connection of a role: the
        role's settings and its profile's constraints (a client's own settings go after these, so
        the engine checks them against the constraints), then the lock (a reader's readonly = 1)."""
        limits = self.writer if writes else self.reader
        values = {**FIXED_SETTINGS, **limits.settings(), "log_comment": scope}
        statements = [f"SET {name} = {string_literal(value)}" for name, value in values.items()]
        statements.append(f"SET profile = '{WRITER_PROFILE if writes else READER_PROFILE}'")
        return statements, [] if writes else ["SET readonly = 1"]


def _profile(name: str, limits: Limits) -> str:
    constraints = "".join(
        f"        <{setting}><min>1</min><max>{value}</max></{setting}>\n"
        for setting, value in limits.settings().items()
    ) + "".join(f"        <{setting}><const/></{setting}>\n" for setting in (*FIXED_SETTINGS, "log_comment"))
    return f"    <{name}>\n      <constraints>\n{constraints}      </constraints>\n    </{name}>\n"


def _tag(name: str) -> str:
    # database and table names of the project are identifiers ([A-Za-z0-9_]); anything else
    # cannot be expressed as an XML element name and is refused rather than mangled
    if not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise ValueError(f"{name!r} cannot carry a row policy (names must be identifiers)")
    return name


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    temporary.write_text(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
