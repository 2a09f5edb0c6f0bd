"""Statements as ClickHouse's own parser sees them.

Every request is parsed by the engine before anything runs: ``parseQueryToJSON`` returns the
parse tree of exactly one statement (it refuses multi-statements) as JSON, and the policy
(endpoint/policy.py) decides on that tree. No regular expression looks at SQL.

A few statement kinds have no JSON form yet (DESCRIBE, EXISTS, SHOW CREATE, SHOW PROCESSLIST,
...). The engine's error names the node type; for the ones that read one object (DESCRIBE t,
EXISTS t, SHOW CREATE t), the object is checked as ``SELECT * FROM <object>`` instead, cut out
with the engine's own lexer (``tokenizeQuery``).

An INSERT with its data inline (``INSERT ... VALUES (...)`` or ``INSERT ... FORMAT CSV\\n<data>``)
has no JSON form either: the lexer finds where the data starts, the head is parsed alone, and the
data goes to the engine as a file (``FROM INFILE``, written by the endpoint) in the named format,
so the statement that runs is the head that was checked.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from endpoint.errors import BAD_ARGUMENTS, NOT_IMPLEMENTED, SYNTAX_ERROR, QueryError, from_engine

# Node types without a JSON form whose statement reads one table (or view, or dictionary)
OBJECT_STATEMENTS = {
    "DescribeQuery": ("DESCRIBE", "DESC"),
    "ExistsTableQuery": ("EXISTS",),
    "ExistsViewQuery": ("EXISTS",),
    "ExistsDictionaryQuery": ("EXISTS",),
    "ShowCreateTableQuery": ("SHOW",),
    "ShowCreateViewQuery": ("SHOW",),
    "ShowCreateDictionaryQuery": ("SHOW",),
}
# ... and those that name one database
DATABASE_STATEMENTS = {"ExistsDatabaseQuery": ("EXISTS",), "ShowCreateDatabaseQuery": ("SHOW",)}
# words a statement of those kinds may start with, before the object's name
LEADING_WORDS = {
    "DESCRIBE",
    "DESC",
    "EXISTS",
    "SHOW",
    "CREATE",
    "TEMPORARY",
    "TABLE",
    "VIEW",
    "DICTIONARY",
    "DATABASE",
}
# statements longer than this are parsed each time (the cache holds at most 2048 of 64 KiB)
CACHED_TEXT_BYTES = 64 << 10
# how far into a body the head of an INSERT with inline data may reach
INSERT_HEAD_BYTES = 256 << 10


def escape_parameter(value: str) -> str:
    """A string in ClickHouse's escaped format, as a query parameter value must be."""
    return (
        value.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
        .replace("\0", "\\0")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
    )


def string_literal(value: str) -> str:
    """A ClickHouse string literal (the engine converts it to a setting's type where needed)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass(frozen=True)
class Statement:
    """One statement: its text, the type of its root node and, where it has one, its JSON tree."""

    text: str
    kind: str
    ast: dict[str, Any] | None = None
    # for DESCRIBE / EXISTS / SHOW CREATE: the object they read, as a SELECT checked in their place
    reads: Statement | None = None
    # for EXISTS DATABASE / SHOW CREATE DATABASE: the database named
    database: str | None = None

    @property
    def format(self) -> str | None:
        """The FORMAT clause's format, if the statement has one."""
        if self.ast is None:
            return None
        node = self.ast.get("format_ast")
        if isinstance(node, dict) and node.get("type") == "Identifier":
            return str(node.get("name"))
        if self.kind == "InsertQuery" and isinstance(self.ast.get("format"), str):
            return str(self.ast["format"])
        return None


@dataclass(frozen=True)
class InlineInsert:
    """An INSERT whose data followed its head in the request: the head and where the data starts."""

    head: Statement
    data_offset: int
    format: str


class Parser:
    """Parses statements with the engine, on connections that run nothing else."""

    def __init__(self, connect: Callable[[], Any], size: int = 2, cache_entries: int = 2048) -> None:
        self._connect = connect
        self._idle: list[Any] = [connect() for _ in range(size)]
        self._lock = threading.Lock()
        # parse trees of recent statements by their exact text: clients repeat the same text
        # (with {name:Type} parameters), and parsing is a function of the text alone
        self._cache: OrderedDict[str, Statement] = OrderedDict()
        self._cache_entries = cache_entries

    def _value(self, function: str, argument: str, as_json: bool = False) -> str:
        """``function(argument)`` evaluated by the engine, as text (as JSON text if as_json)."""
        call = f"{function}({{q:String}})"
        with self._lock:
            connection = self._idle.pop() if self._idle else self._connect()
        try:
            result = connection.query(
                f"SELECT {f'toJSONString({call})' if as_json else call} FORMAT RawBLOB",
                "RawBLOB",
                params={"q": escape_parameter(argument)},
            )
            return bytes(result.bytes()).decode()
        finally:
            with self._lock:
                self._idle.append(connection)

    def close(self) -> None:
        with self._lock:
            connections, self._idle = self._idle, []
        for connection in connections:
            connection.close()

    # -- parsing ---------------------------------------------------------------------------

    def tree(self, sql: str) -> dict[str, Any]:
        """The JSON parse tree of one statement (QueryError: syntax error, several statements,
        or a statement without a JSON form)."""
        try:
            return dict(json.loads(self._value("parseQueryToJSON", sql)))
        except QueryError:
            raise
        except Exception as ex:
            raise _parse_error(ex) from None

    def parse(self, sql: str) -> Statement:
        """The statement in ``sql``, parsed by the engine; refuses several statements."""
        with self._lock:
            cached = self._cache.get(sql)
            if cached is not None:
                self._cache.move_to_end(sql)
        if cached is not None:
            return cached  # shared: whoever amends a tree works on a copy (service.Endpoint._check)
        try:
            ast = self.tree(sql)
        except _NoJsonFormError as missing:
            return self._without_json(sql, missing.node_type)
        statement = Statement(sql, str(ast.get("type")), ast)
        if len(sql) <= CACHED_TEXT_BYTES:
            with self._lock:
                self._cache[sql] = statement
                while len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)
        return statement

    def format(self, ast: dict[str, Any]) -> str:
        """SQL text of a (checked, possibly amended) parse tree."""
        return self._value("formatQueryFromJSON", json.dumps(ast))

    def tokens(self, sql: str) -> list[tuple[int, int, str]]:
        """The engine lexer's tokens of ``sql``: (begin, end, type), byte offsets."""
        try:
            raw = json.loads(self._value("tokenizeQuery", sql, as_json=True))
        except Exception as ex:
            raise _parse_error(ex) from None
        return [(int(t["begin"]), int(t["end"]), str(t["type"])) for t in raw]

    def _without_json(self, sql: str, node_type: str) -> Statement:
        kind = node_type.split("_", 1)[0]
        words = self._words(sql)
        if kind in OBJECT_STATEMENTS or kind in DATABASE_STATEMENTS:
            first = OBJECT_STATEMENTS.get(kind) or DATABASE_STATEMENTS[kind]
            if not words or words[0][2] not in first:
                raise _cannot_check(node_type)
            rest = _after_leading_words(sql, words)
            if kind in DATABASE_STATEMENTS:
                listing = self.tree("SHOW TABLES FROM " + rest)
                database = (
                    listing.get("from", {}).get("name") if listing.get("type") == "ShowTablesQuery" else None
                )
                if not isinstance(database, str):
                    raise _cannot_check(node_type)
                return Statement(sql, kind, database=database)
            reads = self.parse("SELECT * FROM " + rest)
            if reads.kind != "SelectWithUnionQuery":
                raise _cannot_check(node_type)
            return Statement(sql, kind, reads=reads)
        return Statement(sql, kind)

    def _words(self, sql: str) -> list[tuple[int, int, str]]:
        """The statement's leading bare words, upper-cased (to confirm a statement's kind)."""
        encoded = sql.encode()
        words = []
        for begin, end, token_type in self.tokens(sql[:4096]):
            if token_type in ("Whitespace", "Comment"):
                continue
            if token_type != "BareWord":
                break
            words.append((begin, end, encoded[begin:end].decode().upper()))
            if len(words) > 6:
                break
        return words

    def inline_insert(self, body: bytes) -> InlineInsert | None:
        """The head of an INSERT whose data follows it in ``body`` (VALUES or FORMAT <name>), or
        None if ``body`` is not such an INSERT. The head is parsed alone; the data is opaque
        (and may be binary: only the head has to be text)."""
        prefix = body[:INSERT_HEAD_BYTES].decode(errors="replace")
        encoded = prefix.encode()
        tokens = [t for t in self.tokens(prefix) if t[2] not in ("Whitespace", "Comment")]
        if not tokens or encoded[tokens[0][0] : tokens[0][1]].decode().upper() != "INSERT":
            return None
        depth = 0
        for index, (begin, end, token_type) in enumerate(tokens):
            if token_type in ("OpeningRoundBracket", "OpeningSquareBracket"):
                depth += 1
            elif token_type in ("ClosingRoundBracket", "ClosingSquareBracket"):
                depth -= 1
            if depth != 0 or token_type != "BareWord":
                continue
            word = encoded[begin:end].decode().upper()
            if word == "VALUES":
                head_text, data_start, fmt = encoded[:begin].decode() + "FORMAT Values", end, "Values"
            elif word == "FORMAT" and index + 1 < len(tokens) and tokens[index + 1][2] == "BareWord":
                name_begin, name_end, _ = tokens[index + 1]
                head_text = encoded[:name_end].decode()
                data_start, fmt = name_end, encoded[name_begin:name_end].decode()
            else:
                continue
            try:
                ast = self.tree(head_text)
            except QueryError:
                continue
            if ast.get("type") != "InsertQuery" or "select" in ast or "infile" in ast:
                continue
            return InlineInsert(
                Statement(head_text, "InsertQuery", ast), _data_start(encoded, data_start), fmt
            )
        return None


class _NoJsonFormError(QueryError):
    def __init__(self, node_type: str, message: str) -> None:
        super().__init__(NOT_IMPLEMENTED, message)
        self.node_type = node_type


def _parse_error(ex: BaseException) -> QueryError:
    error = from_engine(ex)
    text = str(error)
    # the engine reports the statement as the argument of the parsing function: drop that part
    scope = text.find(": In scope SELECT ")
    if scope > 0:
        text = text[:scope]
    if error.code == BAD_ARGUMENTS:
        marker = "AST node of type '"
        start = text.find(marker)
        if start >= 0:
            node_type = text[start + len(marker) : text.find("'", start + len(marker))]
            return _NoJsonFormError(node_type, text)
        if "INSERT with inline data" in text:
            return _NoJsonFormError("InsertQuery_inline", text)
    if error.code == SYNTAX_ERROR:
        return QueryError(SYNTAX_ERROR, text.rstrip(". ") + ". (SYNTAX_ERROR)")
    return QueryError(
        error.code, text.rstrip(". ") + f". ({'BAD_ARGUMENTS' if error.code == 36 else 'ERROR'})"
    )


def _cannot_check(node_type: str) -> QueryError:
    return QueryError(
        NOT_IMPLEMENTED,
        f"the endpoint cannot check a statement of this form ({node_type}); "
        "write it as a SELECT over the system tables",
    )


def _after_leading_words(sql: str, words: list[tuple[int, int, str]]) -> str:
    """The text after the statement's keywords (DESCRIBE TABLE, SHOW CREATE VIEW, EXISTS, ...)."""
    encoded = sql.encode()
    cut = 0
    grammar = {
        "DESCRIBE": ("TABLE",),
        "DESC": ("TABLE",),
        "EXISTS": ("TEMPORARY", "TABLE", "VIEW", "DICTIONARY", "DATABASE"),
        "SHOW": ("CREATE", "TEMPORARY", "TABLE", "VIEW", "DICTIONARY", "DATABASE"),
    }
    allowed = grammar[words[0][2]]
    cut = words[0][1]
    position = 0
    for _, end, word in words[1:]:
        # each keyword at most once, in grammar order: a table may be named `table`
        if word in allowed[position:] and word in LEADING_WORDS:
            position = allowed.index(word) + 1
            cut = end
        else:
            break
    return encoded[cut:].decode()


def _data_start(encoded: bytes, offset: int) -> int:
    """Inline data starts after the format name's spaces and one line break (ClickHouse's rule)."""
    while offset < len(encoded) and encoded[offset : offset + 1] in (b" ", b"\t"):
        offset += 1
    if encoded[offset : offset + 2] == b"\r\n":
        return offset + 2
    if encoded[offset : offset + 1] == b"\n":
        return offset + 1
    return offset
