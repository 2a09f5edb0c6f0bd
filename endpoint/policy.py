"""What a user of ``scores serve`` may run, decided on the engine's parse tree (endpoint/parsing.py).

This module holds the per-statement rules; the walk over every node of the tree is
endpoint/tree_walk.py, the rules for tables, databases and settings endpoint/access.py, and the
allow-lists endpoint/allowlists.py.

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

from typing import Any

from endpoint.access import denied, readonly, refuse_reserved_settings
from endpoint.allowlists import (
    DICTIONARY_CREDENTIAL_KEYS,
    HOST_ALTER_COMMANDS,
    READ_KINDS,
    SAFE_DICTIONARY_SOURCE_KEYS,
    WRITE_KINDS,
    WRITER_SYSTEM_COMMANDS,
)
from endpoint.errors import NOT_IMPLEMENTED, QueryError
from endpoint.parsing import Statement
from endpoint.tree_walk import TreeWalk, cte_names, literal_string, node_children, node_name


class Check(TreeWalk):
    """One authorization: the statement's tree walked against one user's access."""

    # -- entry point ----------------------------------------------------------------------

    def statement(self, statement: Statement) -> None:
        kind = statement.kind
        if kind in WRITE_KINDS and not self.access.writes:
            raise readonly(self.access.user)
        if kind not in READ_KINDS and kind not in WRITE_KINDS:
            raise denied(f"{self.access.user}: statements of kind {kind} are not allowed here")
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
            raise denied(f"{self.access.user}: statements of kind {kind} are not allowed here")
        self._root(statement.ast)

    # -- the root of a statement: its kind-specific parts, then every node ----------------

    def _root(self, ast: dict[str, Any]) -> None:
        kind = ast.get("type")
        self.cte_names |= set(cte_names(ast))
        part = KIND_CHECKS.get(str(kind))
        if part is not None:
            getattr(self, part)(ast)
        # EXPLAIN's statement was checked as a statement of its own
        self._walk({k: v for k, v in ast.items() if not (kind == "ExplainQuery" and k == "query")})

    def _insert_query(self, ast: dict[str, Any]) -> None:
        if ast.get("table_function") is not None:
            raise denied("INSERT INTO FUNCTION is not allowed through the endpoint")
        self._table(node_name(ast.get("database")), node_name(ast.get("table")) or "", write=True)

    def _created_or_dropped(self, ast: dict[str, Any]) -> None:
        """The object a CREATE or DROP names: a temporary table, a table, or a database."""
        if ast.get("is_temporary"):
            if not self.session:
                raise denied("temporary tables need a session (session_id)")
        elif ast.get("table"):
            self._table(ast.get("database") or None, ast["table"], write=True)
        else:
            self._database(str(ast.get("database")), write=True)

    def _create_query(self, ast: dict[str, Any]) -> None:
        if ast.get("attach") or ast.get("has_attach_from_path"):
            raise denied("ATTACH is not allowed through the endpoint")
        self._created_or_dropped(ast)
        if ast.get("as_table"):
            self._table(ast.get("as_database") or None, ast["as_table"], write=False)
        for target in (ast.get("targets") or {}).get("targets") or []:
            if target.get("table_name"):  # MATERIALIZED VIEW ... TO db.t
                self._table(target.get("table_database") or None, str(target["table_name"]), write=True)
            elif target.get("table_id") or target.get("inner_uuid"):
                raise denied("CREATE ... TO a table by id is not allowed through the endpoint")
        if ast.get("as_table_function") is not None:
            raise denied("CREATE TABLE ... AS <table function> is not allowed through the endpoint")
        if ast.get("is_dictionary"):
            self._dictionary(ast)

    def _drop_query(self, ast: dict[str, Any]) -> None:
        if ast.get("has_all") or ast.get("has_tables"):
            raise denied("DROP/TRUNCATE ALL TABLES is not allowed through the endpoint")
        self._created_or_dropped(ast)

    def _alter_query(self, ast: dict[str, Any]) -> None:
        self._table(ast.get("database") or None, str(ast.get("table")), write=True)
        for command in node_children(ast.get("command_list")):
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
                raise denied(f"ALTER ... {command_type} is not allowed through the endpoint")

    def _rename_query(self, ast: dict[str, Any]) -> None:
        if ast.get("database"):
            raise denied("RENAME DATABASE is not allowed through the endpoint")
        for element in ast.get("elements") or []:
            self._table(element.get("from_database") or None, str(element.get("from_table")), write=True)
            self._table(element.get("to_database") or None, str(element.get("to_table")), write=True)

    def _optimize_query(self, ast: dict[str, Any]) -> None:
        self._table(node_name(ast.get("database")), node_name(ast.get("table")) or "", write=True)

    def _check_table_query(self, ast: dict[str, Any]) -> None:
        self._table(node_name(ast.get("database")), node_name(ast.get("table")) or "", write=False)

    def _system_query(self, ast: dict[str, Any]) -> None:
        command = str(ast.get("query_type"))
        if command not in WRITER_SYSTEM_COMMANDS:
            raise denied(f"SYSTEM {command} is not allowed through the endpoint")
        table = node_name(ast.get("table"))
        if table:
            self._table(node_name(ast.get("database")), table, write=True)

    def _show_tables_query(self, ast: dict[str, Any]) -> None:
        for flag in ("clusters", "cluster", "caches", "m_settings"):
            if ast.get(flag):
                raise denied("this SHOW statement is not allowed through the endpoint")
        database = node_name(ast.get("from"))
        if database:
            self._database(database, write=False)

    def _show_columns_query(self, ast: dict[str, Any]) -> None:
        self._table(ast.get("database") or None, str(ast.get("table")), write=False)

    def _use_query(self, ast: dict[str, Any]) -> None:
        self._database(str(node_name(ast.get("database"))), write=False, current=True)

    def _set_query(self, ast: dict[str, Any]) -> None:
        refuse_reserved_settings(str(change.get("name")) for change in ast.get("changes") or [])

    def _explain_query(self, ast: dict[str, Any]) -> None:
        inner = ast.get("query")
        if isinstance(inner, dict):
            kind = str(inner.get("type"))
            if kind in WRITE_KINDS and not self.access.writes:
                raise readonly(self.access.user)
            if kind not in READ_KINDS and kind not in WRITE_KINDS:
                raise denied(f"EXPLAIN of a {kind} is not allowed here")
            self._root(inner)

    def _kill_query_query(self, ast: dict[str, Any]) -> None:
        # the server answers KILL QUERY itself, for the queries it runs (endpoint/server.py)
        if ast.get("kill_type") != "Query":
            raise denied("only KILL QUERY is available through the endpoint")

    def _dictionary(self, ast: dict[str, Any]) -> None:
        source = (ast.get("dictionary") or {}).get("source") or {}
        if str(source.get("name", "")).lower() != "clickhouse":
            raise denied(f"dictionary source {source.get('name')} is not allowed through the endpoint")
        elements = source.get("elements") or {}
        kept = []
        for pair in node_children(elements):
            key = str(pair.get("first", "")).lower()
            if key in DICTIONARY_CREDENTIAL_KEYS:
                self.amended = True
                continue  # the endpoint's users are its own; the engine reads the source as itself
            if key not in SAFE_DICTIONARY_SOURCE_KEYS:
                raise denied(f"dictionary source option {key} is not allowed through the endpoint")
            kept.append(pair)
        elements["children"] = kept
        values = {str(p.get("first", "")).lower(): literal_string(p.get("second") or {}) for p in kept}
        if values.get("table"):
            self._table(values.get("db") or None, str(values["table"]), write=False)
        # the engine runs a source query as the warehouse's owner: it is checked like the user's own
        for key in ("query", "invalidate_query"):
            text = values.get(key)
            if text:
                inner = self.parse(text)
                if inner.kind != "SelectWithUnionQuery":
                    raise denied(f"a dictionary's {key} must be a SELECT")
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
