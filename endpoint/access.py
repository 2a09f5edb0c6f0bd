"""One user's access, and the rules for the objects a statement names: tables, databases and
settings (the parse-tree walk, endpoint/tree_walk.py, finds them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from endpoint.allowlists import (
    METADATA_SYSTEM_TABLES,
    PATH_SETTING_PARTS,
    RESERVED_SETTINGS,
    SCHEMA_DATABASES,
    WRITER_SYSTEM_TABLES,
    FunctionCatalogue,
)
from endpoint.errors import ACCESS_DENIED, READONLY, QueryError
from endpoint.parsing import Statement


@dataclass(frozen=True)
class Access:
    """What one user may do."""

    user: str
    writes: bool
    databases: frozenset[str]  # the project's databases
    # scoped users read only these tables of the project's databases (None: every table)
    tables: frozenset[tuple[str, str]] | None = None
    dictionaries: bool = True  # dictGet & co. (they bypass row policies, so never for scoped users)
    user_files: Path | None = None  # writers may read regular files under it with file()

    @property
    def system_tables(self) -> frozenset[str]:
        return WRITER_SYSTEM_TABLES if self.writes else METADATA_SYSTEM_TABLES


@dataclass
class ObjectRules:
    """One authorization's state, and its rules for tables, databases and settings."""

    access: Access
    current_database: str
    functions: FunctionCatalogue
    exists: Callable[[str, str], bool]
    # parses SQL held in strings (a dictionary's source query), to check it like a statement
    parse: Callable[[str], Statement]
    session: bool
    # temporary tables of the session: unqualified names may refer to them
    temporary_tables: frozenset[str] = frozenset()
    cte_names: set[str] = field(default_factory=set)
    # set when the check amended the tree (a resolved user file, a dictionary source without
    # credentials): the statement then runs as the amended tree, formatted by the engine
    amended: bool = False
    # set when the decision depended on which tables exist (it cannot be remembered then)
    looked_up_tables: bool = False

    def table_exists(self, database: str, table: str) -> bool:
        self.looked_up_tables = True
        return self.exists(database, table)

    def _table(self, database: str | None, table: str, write: bool, maybe_column: bool = False) -> None:
        access = self.access
        if database is None and table in self.temporary_tables:
            return
        if (
            database is None
            and self.current_database == "default"
            and not self.table_exists("default", table)
        ):
            return  # nothing of that name: the engine answers "unknown table" (or finds a CTE, a column)
        # a CTE (or a column) of this statement, unless a table of that name exists that the user
        # may not read
        if (
            database is None
            and (table in self.cte_names or maybe_column)
            and not self.table_exists(self.current_database, table)
        ):
            return
        if database is None:
            database = self.current_database
        if write:
            if not access.writes:
                raise readonly(access.user)
            if database not in access.databases:
                raise denied(
                    f"{access.user}: writes only to the project's databases "
                    f"({', '.join(sorted(access.databases))}), not {database}"
                )
            return
        if database == "system":
            if table.lower() not in access.system_tables:
                raise denied(f"{access.user}: table system.{table} is not readable through the endpoint")
            return
        if database in SCHEMA_DATABASES:
            if access.tables is not None:
                raise denied(f"{access.user}: {database} is not readable for a scoped user")
            return
        if database not in access.databases:
            raise denied(f"{access.user}: database {database} is not one of the project's databases")
        if access.tables is not None and (database, table) not in access.tables:
            raise denied(f"{access.user}: table {database}.{table} is not readable for this user")

    def _database(self, database: str, write: bool, current: bool = False) -> None:
        if write:
            if not self.access.writes:
                raise readonly(self.access.user)
            if database not in self.access.databases:
                raise denied(
                    f"{self.access.user}: databases other than the project's cannot be created or dropped"
                )
            return
        allowed = (
            self.access.databases
            | {"system", "default"}
            | (SCHEMA_DATABASES if self.access.tables is None else frozenset())
        )
        if current:
            allowed = self.access.databases | {"default"}
        if database not in allowed:
            raise denied(f"{self.access.user}: database {database} is not available through the endpoint")


def refuse_reserved_settings(names: Iterable[str]) -> None:
    """Refuse the settings no client may change: those the endpoint fixes per connection and those
    that would point the engine at host paths or servers (SET, SETTINGS, URL parameters alike)."""
    for name in names:
        lowered = name.lower()
        if lowered in RESERVED_SETTINGS:
            raise denied(f"setting {name} is set by the endpoint and cannot be changed")
        if any(part in lowered for part in PATH_SETTING_PARTS):
            raise denied(f"setting {name} names host files or servers and cannot be set here")


def denied(text: str) -> QueryError:
    return QueryError(ACCESS_DENIED, text)


def readonly(user: str) -> QueryError:
    return QueryError(READONLY, f"{user}: Cannot execute query in readonly mode")
