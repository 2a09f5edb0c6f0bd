"""What a user of ``scores serve`` may run, decided on the engine's parse tree (endpoint/parsing.py).

The rules, for every user:
* one statement per request (the parser refuses more);
* no ``INTO OUTFILE``, ``INTO STDOUT``, ``FROM INFILE``: chDB runs them in the endpoint's own
  process, outside the engine's access checks;
* no table function, table engine, database engine or dictionary source that reaches files,
  URLs or other servers; only an allowlist (numbers, values, view, ...). The one exception is
  ``file()`` under the configured user-files directory, for writers, and only for regular files
  inside it (symbolic links resolved), as ``user_files_path`` does for a ClickHouse server;
* no scalar function that reads host files (``file``), calls out (the ``ai*`` functions),
  or inspects the process (introspection), by the engine's own function catalogue;
* tables only in the project's databases, plus the ``system`` tables the role may read;
* no identifier-typed query parameters (``{t:Identifier}``): the table a statement reads must be
  visible in its tree;
* settings that keep users apart (``profile``, ``log_comment``, ``dialect``, ...) are not the
  client's to change. Limits (time, memory, result size) are enforced by the engine itself: each
  connection runs under a settings profile whose constraints the user cannot lift (and, for
  readers, ``readonly = 1``), see endpoint/engine_access.py.

Readers may run SELECT, EXPLAIN, SHOW, DESCRIBE, EXISTS, USE and KILL QUERY of their own
queries; writers also INSERT, CREATE, ALTER, DROP, RENAME, OPTIMIZE, DELETE, UPDATE and a few
SYSTEM commands, on the project's databases only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from endpoint.errors import ACCESS_DENIED, NOT_IMPLEMENTED, READONLY, QueryError
from endpoint.parsing import DATABASE_STATEMENTS, OBJECT_STATEMENTS, Statement

# -- what exists in the engine and may be used ---------------------------------------------------

# table functions that read nothing outside the query (numbers, literal values, subqueries)
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generaterandom",
        "generate_series",
        "generateseries",
        "null",
        "values",
        "view",
        "primes",
    }
)
# table engines that keep data in the warehouse directory
SAFE_TABLE_ENGINES = frozenset(
    {
        f"{prefix}{kind}MergeTree"
        for prefix in ("", "Replicated", "Shared")
        for kind in (
            "",
            "Replacing",
            "Summing",
            "Aggregating",
            "Collapsing",
            "VersionedCollapsing",
            "Coalescing",
        )
    }
    | {
        "Memory",
        "Null",
        "Log",
        "TinyLog",
        "StripeLog",
        "EmbeddedRocksDB",
        "Join",
        "Set",
        "Dictionary",
        "MaterializedView",
        "View",
    }
)
SAFE_DATABASE_ENGINES = frozenset({"Atomic", "Ordinary", "Replicated", "Lazy", "Memory"})
# a dictionary may read the warehouse itself (ClickHouse source without a host), nothing else
SAFE_DICTIONARY_SOURCE_KEYS = frozenset(
    {"table", "db", "query", "where", "invalidate_query", "update_field", "update_lag"}
)
DICTIONARY_CREDENTIAL_KEYS = frozenset({"user", "password"})
# scalar functions that reach outside the query, by name (lower case); the engine's catalogue adds
# every function of the categories below (see FunctionCatalogue)
HOST_FUNCTIONS = frozenset(
    {
        "file",
        "filesystemavailable",
        "filesystemcapacity",
        "filesystemunreserved",
        "getserversetting",
        "showcertificate",
        "generateserialid",
        "catboostevaluate",
        "getmacro",
        "logtrace",
    }
)
HOST_FUNCTION_CATEGORIES = frozenset({"AI", "Introspection", "Internal"})
DICTIONARY_FUNCTIONS_PREFIXES = ("dictget", "dicthas", "dictisin")
# settings only the endpoint sets: they keep users apart (scope, parsing) or are the engine's
# safety rails; their values are fixed per connection
RESERVED_SETTINGS = frozenset(
    {
        "profile",
        "log_comment",
        "dialect",
        "enable_json_ast_dialect",
        "readonly",
        "input_format_values_interpret_expressions",
        "input_format_values_deduce_templates_of_expressions",
        "allow_introspection_functions",
        "allow_ddl",
        "max_parser_depth",
        "max_parser_backtracks",
        "max_query_size",
        "max_ast_elements",
        "max_ast_depth",
        "allow_experimental_analyzer",
        "enable_analyzer",
        "query_cache_system_table_handling",
        "additional_table_filters",
        "additional_result_filter",
        "allow_python_table_function",
        # results cached for one connection must not answer another (all run as `default`)
        "use_query_cache",
        "enable_reads_from_query_cache",
        "enable_writes_to_query_cache",
        "query_cache_share_between_users",
        # a table on a disk made up at CREATE time could sit anywhere on the host
        "disk",
        "dynamic_disk_allow_from_env",
        "dynamic_disk_allow_include",
        "dynamic_disk_allow_from_zk",
    }
)
# settings that name host files or servers (template and schema files, error logs, schema
# registries): no client may point the engine at a path or a URL
PATH_SETTING_PARTS = ("path", "_url", "format_schema", "format_template", "output_format_schema", "_file")
# system tables every user may read: catalogue metadata that clients (clickhouse-connect,
# Superset, dbt) ask for; nothing about other queries, users or the host
METADATA_SYSTEM_TABLES = frozenset(
    {
        "one",
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "databases",
        "tables",
        "columns",
        "functions",
        "table_functions",
        "settings",
        "formats",
        "data_type_families",
        "time_zones",
        "collations",
        "contributors",
        "build_options",
        "table_engines",
        "aggregate_function_combinators",
        "keywords",
        "licenses",
        "dictionaries",
        "data_skipping_indices",
        "settings_changes",
        "merge_tree_settings",
        "database_engines",
        "current_roles",
        "enabled_roles",
        "quota_usage",
    }
)
# ... and writers (dbt, loaders) also the tables' physical state
WRITER_SYSTEM_TABLES = METADATA_SYSTEM_TABLES | frozenset(
    {
        "parts",
        "parts_columns",
        "projection_parts",
        "detached_parts",
        "mutations",
        "merges",
        "disks",
        "storage_policies",
        "projections",
        "replicas",
        "distribution_queue",
        "clusters",
        "macros",
        "moves",
        "part_moves_between_shards",
        "asynchronous_inserts",
    }
)
SCHEMA_DATABASES = frozenset({"information_schema", "INFORMATION_SCHEMA"})
READ_KINDS = frozenset(
    {
        "SelectWithUnionQuery",
        "SelectIntersectExceptQuery",
        "ExplainQuery",
        "ShowTablesQuery",
        "ShowColumnsQuery",
        "ShowIndexesQuery",
        "ShowEngineQuery",
        "ShowFunctions",
        "UseQuery",
        "SetQuery",
        "KillQueryQuery",
        "CheckTableQuery",
        *OBJECT_STATEMENTS,
        *DATABASE_STATEMENTS,
    }
)
WRITE_KINDS = frozenset(
    {
        "InsertQuery",
        "CreateQuery",
        "DropQuery",
        "AlterQuery",
        "RenameQuery",
        "OptimizeQuery",
        "DeleteQuery",
        "UpdateQuery",
        "SystemQuery",
    }
)
WRITER_SYSTEM_COMMANDS = frozenset(
    {
        "RELOAD_DICTIONARY",
        "RELOAD_DICTIONARIES",
        "FLUSH_LOGS",
        "SYNC_REPLICA",
        "STOP_MERGES",
        "START_MERGES",
        "STOP_TTL_MERGES",
        "START_TTL_MERGES",
        "WAIT_LOADING_PARTS",
        "CLEAR_MARK_CACHE",
        "CLEAR_UNCOMPRESSED_CACHE",
        "CLEAR_QUERY_CACHE",
        "CLEAR_QUERY_CONDITION_CACHE",
        "DROP_MARK_CACHE",
        "DROP_UNCOMPRESSED_CACHE",
        "DROP_QUERY_CACHE",
        "SYNC_TRANSACTION_LOG",
        "FLUSH_ASYNC_INSERT_QUEUE",
    }
)
HOST_ALTER_COMMANDS = frozenset(
    {
        "FETCH_PARTITION",
        "FREEZE_ALL",
        "FREEZE_PARTITION",
        "UNFREEZE_ALL",
        "UNFREEZE_PARTITION",
        "ATTACH_PARTITION_FROM_PATH",
    }
)
IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin"}
)


@dataclass(frozen=True)
class FunctionCatalogue:
    """The engine's function catalogue: which names are host functions, resolving aliases."""

    denied: frozenset[str]

    @classmethod
    def from_engine(cls, rows: list[tuple[str, str, str, int]]) -> FunctionCatalogue:
        """rows: (name, alias_to, categories, case_insensitive) from system.functions."""
        canonical_denied = {
            name.lower()
            for name, _, categories, _ in rows
            if name.lower() in HOST_FUNCTIONS
            or any(c.strip() in HOST_FUNCTION_CATEGORIES for c in categories.split(","))
        }
        denied = set(canonical_denied)
        for name, alias_to, _, _ in rows:
            if alias_to and alias_to.lower() in canonical_denied:
                denied.add(name.lower())
        return cls(frozenset(denied | HOST_FUNCTIONS))

    def is_denied(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.denied or lowered.startswith("__")


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
class Check:
    """One authorization: the statement's tree walked against one user's access."""

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

    # -- entry point ----------------------------------------------------------------------

    def table_exists(self, database: str, table: str) -> bool:
        self.looked_up_tables = True
        return self.exists(database, table)

    def statement(self, statement: Statement) -> None:
        kind = statement.kind
        if kind in WRITE_KINDS and not self.access.writes:
            raise _readonly(self.access.user)
        if kind not in READ_KINDS and kind not in WRITE_KINDS:
            raise _denied(f"{self.access.user}: statements of kind {kind} are not allowed here")
        if statement.reads is not None:
            self.statement(statement.reads)
            return
        if statement.database is not None:
            self._database(statement.database, write=False)
            return
        if statement.ast is None:
            if kind in ("ShowEngineQuery", "ShowFunctions"):
                return
            if kind == "InsertQuery":
                raise QueryError(NOT_IMPLEMENTED, "an INSERT with inline data is split before it is checked")
            raise _denied(f"{self.access.user}: statements of kind {kind} are not allowed here")
        self._root(statement.ast)

    # -- the root of a statement: its kind-specific parts, then every node ----------------

    def _root(self, ast: dict[str, Any]) -> None:
        kind = ast.get("type")
        self.cte_names |= set(_cte_names(ast))
        part = KIND_CHECKS.get(str(kind))
        if part is not None:
            getattr(self, part)(ast)
        # EXPLAIN's statement was checked as a statement of its own
        self._walk({k: v for k, v in ast.items() if not (kind == "ExplainQuery" and k == "query")})

    def _insert_query(self, ast: dict[str, Any]) -> None:
        if ast.get("table_function") is not None:
            raise _denied("INSERT INTO FUNCTION is not allowed through the endpoint")
        self._table(_name(ast.get("database")), _name(ast.get("table")) or "", write=True)

    def _created_or_dropped(self, ast: dict[str, Any]) -> None:
        """The object a CREATE or DROP names: a temporary table, a table, or a database."""
        if ast.get("is_temporary"):
            if not self.session:
                raise _denied("temporary tables need a session (session_id)")
        elif ast.get("table"):
            self._table(ast.get("database") or None, ast["table"], write=True)
        else:
            self._database(str(ast.get("database")), write=True)

    def _create_query(self, ast: dict[str, Any]) -> None:
        if ast.get("attach") or ast.get("has_attach_from_path"):
            raise _denied("ATTACH is not allowed through the endpoint")
        self._created_or_dropped(ast)
        if ast.get("as_table"):
            self._table(ast.get("as_database") or None, ast["as_table"], write=False)
        for target in (ast.get("targets") or {}).get("targets") or []:
            if target.get("table_name"):  # MATERIALIZED VIEW ... TO db.t
                self._table(target.get("table_database") or None, str(target["table_name"]), write=True)
            elif target.get("table_id") or target.get("inner_uuid"):
                raise _denied("CREATE ... TO a table by id is not allowed through the endpoint")
        if ast.get("as_table_function") is not None:
            raise _denied("CREATE TABLE ... AS <table function> is not allowed through the endpoint")
        if ast.get("is_dictionary"):
            self._dictionary(ast)

    def _drop_query(self, ast: dict[str, Any]) -> None:
        if ast.get("has_all") or ast.get("has_tables"):
            raise _denied("DROP/TRUNCATE ALL TABLES is not allowed through the endpoint")
        self._created_or_dropped(ast)

    def _alter_query(self, ast: dict[str, Any]) -> None:
        self._table(ast.get("database") or None, str(ast.get("table")), write=True)
        for command in _children(ast.get("command_list")):
            if command.get("from_table"):
                self._table(command.get("from_database") or None, command["from_table"], write=False)
            if command.get("to_table"):
                self._table(command.get("to_database") or None, command["to_table"], write=True)
            command_type = str(command.get("command_type"))
            moves_out = command_type == "MOVE_PARTITION" and command.get("move_destination_type") not in (
                None,
                "TABLE",
            )
            if command_type in HOST_ALTER_COMMANDS or moves_out:
                # fetch from another server, copies into the shadow directory, moves to disks
                raise _denied(f"ALTER ... {command_type} is not allowed through the endpoint")

    def _rename_query(self, ast: dict[str, Any]) -> None:
        if ast.get("database"):
            raise _denied("RENAME DATABASE is not allowed through the endpoint")
        for element in ast.get("elements") or []:
            self._table(element.get("from_database") or None, str(element.get("from_table")), write=True)
            self._table(element.get("to_database") or None, str(element.get("to_table")), write=True)

    def _optimize_query(self, ast: dict[str, Any]) -> None:
        self._table(_name(ast.get("database")), _name(ast.get("table")) or "", write=True)

    def _check_table_query(self, ast: dict[str, Any]) -> None:
        self._table(_name(ast.get("database")), _name(ast.get("table")) or "", write=False)

    def _system_query(self, ast: dict[str, Any]) -> None:
        command = str(ast.get("query_type"))
        if command not in WRITER_SYSTEM_COMMANDS:
            raise _denied(f"SYSTEM {command} is not allowed through the endpoint")
        table = _name(ast.get("table"))
        if table:
            self._table(_name(ast.get("database")), table, write=True)

    def _show_tables_query(self, ast: dict[str, Any]) -> None:
        for flag in ("clusters", "cluster", "caches", "m_settings"):
            if ast.get(flag):
                raise _denied("this SHOW statement is not allowed through the endpoint")
        database = _name(ast.get("from"))
        if database:
            self._database(database, write=False)

    def _show_columns_query(self, ast: dict[str, Any]) -> None:
        self._table(ast.get("database") or None, str(ast.get("table")), write=False)

    def _use_query(self, ast: dict[str, Any]) -> None:
        self._database(str(_name(ast.get("database"))), write=False, current=True)

    def _set_query(self, ast: dict[str, Any]) -> None:
        refuse_reserved_settings(str(change.get("name")) for change in ast.get("changes") or [])

    def _explain_query(self, ast: dict[str, Any]) -> None:
        inner = ast.get("query")
        if isinstance(inner, dict):
            kind = str(inner.get("type"))
            if kind in WRITE_KINDS and not self.access.writes:
                raise _readonly(self.access.user)
            if kind not in READ_KINDS and kind not in WRITE_KINDS:
                raise _denied(f"EXPLAIN of a {kind} is not allowed here")
            self._root(inner)

    def _kill_query_query(self, ast: dict[str, Any]) -> None:
        # the server answers KILL QUERY itself, for the queries it runs (endpoint/server.py)
        if ast.get("kill_type") != "Query":
            raise _denied("only KILL QUERY is available through the endpoint")

    # -- every node ------------------------------------------------------------------------

    def _walk(self, node: Any, key: str = "") -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(item, key)
            return
        if not isinstance(node, dict):
            return
        node_type = node.get("type")
        if node.get("out_file") is not None or node.get("is_into_outfile_with_stdout"):
            raise _denied("INTO OUTFILE / INTO STDOUT is not allowed through the endpoint")
        if node.get("infile") is not None:
            raise _denied(
                "FROM INFILE is not allowed through the endpoint: send the data in the request body"
            )
        if node_type == "Function":
            self._function(node, key)
        elif node_type == "TableIdentifier":
            self._table_identifier(node)
        elif node_type == "QueryParameter" and str(node.get("param_type")) == "Identifier":
            raise _denied(
                "identifier query parameters ({name:Identifier}) are not allowed through the endpoint"
            )
        elif node_type == "SetQuery":
            refuse_reserved_settings(str(change.get("name")) for change in node.get("changes") or [])
        elif (
            node_type in ("SelectWithUnionQuery", "InsertQuery", "CreateQuery")
            and key
            in (
                "select",
                "query",
            )
            and node.get("out_file") is not None
        ):
            raise _denied("INTO OUTFILE is not allowed through the endpoint")
        for child_key, child in node.items():
            if child_key in ("type",):
                continue
            self._walk(child, child_key)

    def _function(self, node: dict[str, Any], key: str) -> None:
        name = str(node.get("name", ""))
        kind = node.get("kind")
        if kind == "TABLE_ENGINE":
            if name not in SAFE_TABLE_ENGINES:
                raise _denied(f"table engine {name} is not allowed through the endpoint")
            return
        if kind == "DATABASE_ENGINE":
            if name not in SAFE_DATABASE_ENGINES:
                raise _denied(f"database engine {name} is not allowed through the endpoint")
            return
        if kind in ("BACKUP_NAME",):
            raise _denied("BACKUP / RESTORE is not allowed through the endpoint")
        if key in ("table_function", "as_table_function"):
            self._table_function(node)
            return
        lowered = name.lower()
        if self.functions.is_denied(name):
            raise _denied(f"function {name} is not allowed through the endpoint")
        if not self.access.dictionaries and (
            lowered.startswith(DICTIONARY_FUNCTIONS_PREFIXES) or lowered in ("joinget", "joingetornull")
        ):
            raise _denied(
                f"{self.access.user}: function {name} reads a dictionary, which bypasses row-level access"
            )
        if lowered in IN_FUNCTIONS:
            arguments = _children(node.get("arguments"))
            if len(arguments) == 2 and arguments[1].get("type") == "Identifier":
                parts = _parts(arguments[1])
                if len(parts) == 2:
                    self._table(parts[0], parts[1], write=False)
                elif len(parts) == 1:
                    self._table(None, parts[0], write=False, maybe_column=True)

    def _table_function(self, node: dict[str, Any]) -> None:
        name = str(node.get("name", ""))
        if name.lower() in SAFE_TABLE_FUNCTIONS:
            return
        if name == "file" and self.access.writes and self.access.user_files is not None:
            self._user_file(node)
            return
        raise _denied(f"table function {name} is not allowed through the endpoint")

    def _user_file(self, node: dict[str, Any]) -> None:
        """file('name', ...) of a writer: a regular file inside the user-files directory."""
        assert self.access.user_files is not None
        arguments = _children(node.get("arguments"))
        path = _literal_string(arguments[0]) if arguments else None
        if path is None:
            raise _denied("file() needs a literal path")
        if any(c in path for c in "*?{}[]"):
            raise _denied("file() globs are not allowed through the endpoint")
        root = self.access.user_files.resolve()
        target = Path(os.path.realpath(root / path))
        if not target.is_relative_to(root):
            raise _denied(f"file() may read only files under the user files directory {root}")
        if not target.is_file():
            raise _denied(f"file(): {path} is not a regular file under the user files directory")
        # the engine resolves relative paths against its working directory: give it the real one
        arguments[0]["value"] = {"field_type": "String", "value": str(target)}
        self.amended = True

    def _table_identifier(self, node: dict[str, Any]) -> None:
        parts = _parts(node)
        if any(child.get("type") == "QueryParameter" for child in node.get("children") or []):
            raise _denied(
                "identifier query parameters ({name:Identifier}) are not allowed through the endpoint"
            )
        if len(parts) == 2:
            self._table(parts[0], parts[1], write=False)
        elif len(parts) == 1:
            self._table(None, parts[0], write=False)
        else:
            raise _denied(f"cannot resolve table {node.get('name')!r}")

    # -- tables, databases, settings -------------------------------------------------------

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
                raise _readonly(access.user)
            if database not in access.databases:
                raise _denied(
                    f"{access.user}: writes only to the project's databases "
                    f"({', '.join(sorted(access.databases))}), not {database}"
                )
            return
        if database == "system":
            if table.lower() not in access.system_tables:
                raise _denied(f"{access.user}: table system.{table} is not readable through the endpoint")
            return
        if database in SCHEMA_DATABASES:
            if access.tables is not None:
                raise _denied(f"{access.user}: {database} is not readable for a scoped user")
            return
        if database not in access.databases:
            raise _denied(f"{access.user}: database {database} is not one of the project's databases")
        if access.tables is not None and (database, table) not in access.tables:
            raise _denied(f"{access.user}: table {database}.{table} is not readable for this user")

    def _database(self, database: str, write: bool, current: bool = False) -> None:
        if write:
            if not self.access.writes:
                raise _readonly(self.access.user)
            if database not in self.access.databases:
                raise _denied(
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
            raise _denied(f"{self.access.user}: database {database} is not available through the endpoint")

    def _dictionary(self, ast: dict[str, Any]) -> None:
        source = (ast.get("dictionary") or {}).get("source") or {}
        if str(source.get("name", "")).lower() != "clickhouse":
            raise _denied(f"dictionary source {source.get('name')} is not allowed through the endpoint")
        elements = source.get("elements") or {}
        kept = []
        for pair in _children(elements):
            key = str(pair.get("first", "")).lower()
            if key in DICTIONARY_CREDENTIAL_KEYS:
                self.amended = True
                continue  # the endpoint's users are its own; the engine reads the source as itself
            if key not in SAFE_DICTIONARY_SOURCE_KEYS:
                raise _denied(f"dictionary source option {key} is not allowed through the endpoint")
            kept.append(pair)
        elements["children"] = kept
        values = {str(p.get("first", "")).lower(): _literal_string(p.get("second") or {}) for p in kept}
        if values.get("table"):
            self._table(values.get("db") or None, str(values["table"]), write=False)
        # the engine runs a source query as the warehouse's owner: it is checked like the user's own
        for key in ("query", "invalidate_query"):
            text = values.get(key)
            if text:
                inner = self.parse(text)
                if inner.kind != "SelectWithUnionQuery":
                    raise _denied(f"a dictionary's {key} must be a SELECT")
                self.statement(inner)
        if values.get("where"):
            self.statement(self.parse(f"SELECT 1 WHERE {values['where']}"))


# the kind-specific part of the check of each statement kind (methods of Check)
KIND_CHECKS = {
    "InsertQuery": "_insert_query",
    "CreateQuery": "_create_query",
    "DropQuery": "_drop_query",
    "AlterQuery": "_alter_query",
    "RenameQuery": "_rename_query",
    "OptimizeQuery": "_optimize_query",
    "CheckTableQuery": "_check_table_query",
    "SystemQuery": "_system_query",
    "ShowTablesQuery": "_show_tables_query",
    "ShowColumnsQuery": "_show_columns_query",
    "UseQuery": "_use_query",
    "SetQuery": "_set_query",
    "ExplainQuery": "_explain_query",
    "KillQueryQuery": "_kill_query_query",
    "DeleteQuery": "_optimize_query",
    "UpdateQuery": "_optimize_query",
    "ShowIndexesQuery": "_show_columns_query",
}


def refuse_reserved_settings(names: Iterable[str]) -> None:
    """Refuse the settings no client may change: those the endpoint fixes per connection and those
    that would point the engine at host paths or servers (SET, SETTINGS, URL parameters alike)."""
    for name in names:
        lowered = name.lower()
        if lowered in RESERVED_SETTINGS:
            raise _denied(f"setting {name} is set by the endpoint and cannot be changed")
        if any(part in lowered for part in PATH_SETTING_PARTS):
            raise _denied(f"setting {name} names host files or servers and cannot be set here")


def _cte_names(ast: Any) -> Iterator[str]:
    if isinstance(ast, dict):
        if ast.get("type") == "WithElement" and isinstance(ast.get("name"), str):
            yield ast["name"]
        for value in ast.values():
            yield from _cte_names(value)
    elif isinstance(ast, list):
        for item in ast:
            yield from _cte_names(item)


def _children(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [c for c in node.get("children") or [] if isinstance(c, dict)]
    return []


def _parts(node: dict[str, Any]) -> list[str]:
    parts = node.get("name_parts")
    if isinstance(parts, list) and parts:
        return [str(p) for p in parts]
    name = node.get("name")
    return [str(name)] if name else []


def _name(node: Any) -> str | None:
    if isinstance(node, dict):
        name = node.get("name")
        return str(name) if name else None
    if isinstance(node, str) and node:
        return node
    return None


def _literal_string(node: dict[str, Any]) -> str | None:
    if node.get("type") != "Literal":
        return None
    value = node.get("value") or {}
    return str(value.get("value")) if value.get("field_type") == "String" else None


def _denied(text: str) -> QueryError:
    return QueryError(ACCESS_DENIED, text)


def _readonly(user: str) -> QueryError:
    return QueryError(READONLY, f"{user}: Cannot execute query in readonly mode")
