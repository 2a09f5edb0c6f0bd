"""The walk over every node of a statement's parse tree: what each node may not be (INTO OUTFILE,
FROM INFILE, identifier parameters), the functions, table functions and engines it calls, and the
tables it names (checked by endpoint/access.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from endpoint.access import ObjectRules, denied, refuse_reserved_settings
from endpoint.allowlists import (
    DICTIONARY_FUNCTIONS_PREFIXES,
    IN_FUNCTIONS,
    SAFE_DATABASE_ENGINES,
    SAFE_TABLE_ENGINES,
    SAFE_TABLE_FUNCTIONS,
)


class TreeWalk(ObjectRules):
    """Every node of a tree, against the user's access."""

    def _walk(self, node: Any, key: str = "") -> None:
        if isinstance(node, list):
            for item in node:
                self._walk(item, key)
            return
        if not isinstance(node, dict):
            return
        node_type = node.get("type")
        if node.get("out_file") is not None or node.get("is_into_outfile_with_stdout"):
            raise denied("INTO OUTFILE / INTO STDOUT is not allowed through the endpoint")
        if node.get("infile") is not None:
            raise denied("FROM INFILE is not allowed through the endpoint: send the data in the request body")
        if node_type == "Function":
            self._function(node, key)
        elif node_type == "TableIdentifier":
            self._table_identifier(node)
        elif node_type == "QueryParameter" and str(node.get("param_type")) == "Identifier":
            raise denied(
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
            raise denied("INTO OUTFILE is not allowed through the endpoint")
        for child_key, child in node.items():
            if child_key in ("type",):
                continue
            self._walk(child, child_key)

    def _function(self, node: dict[str, Any], key: str) -> None:
        name = str(node.get("name", ""))
        kind = node.get("kind")
        if kind == "TABLE_ENGINE":
            if name not in SAFE_TABLE_ENGINES:
                raise denied(f"table engine {name} is not allowed through the endpoint")
            return
        if kind == "DATABASE_ENGINE":
            if name not in SAFE_DATABASE_ENGINES:
                raise denied(f"database engine {name} is not allowed through the endpoint")
            return
        if kind in ("BACKUP_NAME",):
            raise denied("BACKUP / RESTORE is not allowed through the endpoint")
        if key in ("table_function", "as_table_function"):
            self._table_function(node)
            return
        lowered = name.lower()
        if self.functions.is_denied(name):
            raise denied(f"function {name} is not allowed through the endpoint")
        if not self.access.dictionaries and (
            lowered.startswith(DICTIONARY_FUNCTIONS_PREFIXES) or lowered in ("joinget", "joingetornull")
        ):
            raise denied(
                f"{self.access.user}: function {name} reads a dictionary, which bypasses row-level access"
            )
        if lowered in IN_FUNCTIONS:
            arguments = node_children(node.get("arguments"))
            if len(arguments) == 2 and arguments[1].get("type") == "Identifier":
                parts = name_parts(arguments[1])
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
        raise denied(f"table function {name} is not allowed through the endpoint")

    def _user_file(self, node: dict[str, Any]) -> None:
        """file('name', ...) of a writer: a regular file inside the user-files directory."""
        assert self.access.user_files is not None
        arguments = node_children(node.get("arguments"))
        path = literal_string(arguments[0]) if arguments else None
        if path is None:
            raise denied("file() needs a literal path")
        if any(c in path for c in "*?{}[]"):
            raise denied("file() globs are not allowed through the endpoint")
        root = self.access.user_files.resolve()
        target = Path(os.path.realpath(root / path))
        if not target.is_relative_to(root):
            raise denied(f"file() may read only files under the user files directory {root}")
        if not target.is_file():
            raise denied(f"file(): {path} is not a regular file under the user files directory")
        # the engine resolves relative paths against its working directory: give it the real one
        arguments[0]["value"] = {"field_type": "String", "value": str(target)}
        self.amended = True

    def _table_identifier(self, node: dict[str, Any]) -> None:
        parts = name_parts(node)
        if any(child.get("type") == "QueryParameter" for child in node.get("children") or []):
            raise denied(
                "identifier query parameters ({name:Identifier}) are not allowed through the endpoint"
            )
        if len(parts) == 2:
            self._table(parts[0], parts[1], write=False)
        elif len(parts) == 1:
            self._table(None, parts[0], write=False)
        else:
            raise denied(f"cannot resolve table {node.get('name')!r}")


def cte_names(ast: Any) -> Iterator[str]:
    if isinstance(ast, dict):
        if ast.get("type") == "WithElement" and isinstance(ast.get("name"), str):
            yield ast["name"]
        for value in ast.values():
            yield from cte_names(value)
    elif isinstance(ast, list):
        for item in ast:
            yield from cte_names(item)


def node_children(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [c for c in node.get("children") or [] if isinstance(c, dict)]
    return []


def name_parts(node: dict[str, Any]) -> list[str]:
    parts = node.get("name_parts")
    if isinstance(parts, list) and parts:
        return [str(p) for p in parts]
    name = node.get("name")
    return [str(name)] if name else []


def node_name(node: Any) -> str | None:
    if isinstance(node, dict):
        name = node.get("name")
        return str(name) if name else None
    if isinstance(node, str) and node:
        return node
    return None


def literal_string(node: dict[str, Any]) -> str | None:
    if node.get("type") != "Literal":
        return None
    value = node.get("value") or {}
    return str(value.get("value")) if value.get("field_type") == "String" else None
