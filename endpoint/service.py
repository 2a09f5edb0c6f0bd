"""One request to ``scores serve``, from authenticated SQL to engine output.

The steps, for every request: the statement is parsed by the engine (endpoint/parsing.py) and
checked against the user's access (endpoint/policy.py); then it runs, exactly as checked, on a
connection of the user's role (endpoint/connections.py; in a session, endpoint/sessions.py), whose
limits and read-only mode the engine itself enforces (endpoint/engine_access.py).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from endpoint.access import Access, refuse_reserved_settings
from endpoint.allowlists import READ_KINDS, FunctionCatalogue
from endpoint.answer import DEFAULT_FORMAT, Answer, summary
from endpoint.connections import Connection, Connections, Role
from endpoint.engine_access import EngineAccess
from endpoint.errors import (
    ACCESS_DENIED,
    BAD_ARGUMENTS,
    QUERY_WAS_CANCELLED,
    QueryError,
    from_engine,
)
from endpoint.kill import KILL_ANSWER, kill
from endpoint.parsing import Parser, Statement, escape_parameter, identifier
from endpoint.policy import Check
from endpoint.request import Request
from endpoint.running import Registry, marker
from endpoint.scopes import roster_access, row_policies, scope_comment
from endpoint.sessions import Sessions, settings_for_one_query
from endpoint.users import ROSTER_ROLE, User
from loaders.roster import ROSTER_TABLE, Entry, entry_of, lookup_sql

# decisions remembered, by user access, current database and statement text: a client repeats
# the same statement (with {name:Type} parameters), and its check would come out the same
PASSED_CHECKS = 4096


@dataclass
class Options:
    """How the endpoint runs (the CLI's options)."""

    databases: tuple[str, ...]  # the dbt schema first, then the raw database (the roster's)
    user_files: Path | None = None

    @property
    def report_database(self) -> str:
        return self.databases[0]

    @property
    def roster_database(self) -> str:
        return self.databases[-1]


class Endpoint:
    """The engine side of ``scores serve``."""

    def __init__(self, path: str, access: EngineAccess, options: Options) -> None:
        from engine.embedded import open_embedded_client

        self.path = path
        self.options = options
        if not access.row_policies:
            access = dataclasses.replace(access, row_policies=row_policies(options.report_database))
        self.engine_access = access
        config = access.write()
        engine_options = {"config-file": str(config)}
        self._admin = open_embedded_client(path, engine_options=engine_options)  # holds the directory
        self._engine_options = engine_options
        self._admin_raw = self._open_raw()
        self._admin_lock = threading.Lock()
        self.version = str(self._admin.server_version)
        self.timezone = str(self._admin.query("SELECT timezone()").result_rows[0][0])
        self.parser = Parser(self._open_raw)
        self.functions = FunctionCatalogue.from_engine(
            [
                (str(r[0]), str(r[1]), str(r[2]), int(r[3]))
                for r in self._admin.query(
                    "SELECT name, alias_to, categories, case_insensitive FROM system.functions"
                ).result_rows
            ]
        )
        self.setting_names = frozenset(
            str(r[0]) for r in self._admin.query("SELECT name FROM system.settings").result_rows
        )
        self._passed: OrderedDict[tuple[object, ...], None] = OrderedDict()
        self._roster_exists = False
        self._passed_lock = threading.Lock()
        self.connections = Connections(self._open_raw, access.setup)
        self.sessions = Sessions(self.connections.open)
        self.registry = Registry(self._engine_ids, self._kill)
        self._insert_dir = tempfile.TemporaryDirectory(prefix="scores-serve-inserts-")
        os.chmod(self._insert_dir.name, 0o700)
        self._verify_roles()

    def open_raw(self) -> Any:
        """A new raw connection on the endpoint's engine, for the process's own readers (the
        report API, api/run.py): no client setup, so no scope or limits apply to it."""
        return self._open_raw()

    def _open_raw(self) -> Any:
        """A new raw connection on the endpoint's engine (the config-file only counts at the first)."""
        from engine.embedded import open_engine_connection

        return open_engine_connection(self.path, engine_options=self._engine_options)

    # -- roles -----------------------------------------------------------------------------

    def access(self, user: User, read_only: bool = False) -> tuple[Role, Access]:
        """The connection role and the access of a request's user; a roster user's role and
        scope are read from the roster on every request (removed: refused at once)."""
        databases = frozenset(self.options.databases)
        if user.role == ROSTER_ROLE:
            entry = self.roster_entry(user.name)
            if entry is None:
                raise QueryError(ACCESS_DENIED, f"{user.name}: not in the staff roster (scores roster load)")
            return (
                Role(user.name, writes=False, scope=scope_comment(entry)),
                roster_access(entry, databases, self.options.report_database),
            )
        access = Access(
            user.name,
            writes=user.writes and not read_only,
            databases=databases,
            user_files=self.options.user_files if user.writes else None,
        )
        return Role(user.name, user.writes), access

    def roster_entry(self, name: str) -> Entry | None:
        """The user's roster entry, or None (no roster, or not in it)."""
        database = self.options.roster_database
        # the roster is swapped in whole (EXCHANGE TABLES), so once it exists it stays
        if not self._roster_exists:
            self._roster_exists = self.table_exists(database, ROSTER_TABLE)
            if not self._roster_exists:
                return None
        line = self._admin_query(lookup_sql(database), {"u": name}).decode().rstrip("\n")
        if not line:
            return None
        role, _, scope = line.partition("\t")
        return entry_of(name, role, scope)

    def _verify_roles(self) -> None:
        """Refuse to serve if the engine does not hold a reader to its limits (fail closed)."""
        connection = self.connections.open(Role("", writes=False), {})
        try:
            readonly = bytes(connection.raw.query("SELECT getSetting('readonly')", "TSV").bytes()).strip()
            held = False
            try:
                connection.raw.query("SELECT 1 SETTINGS max_execution_time = 0")
            except Exception:
                held = True  # the engine refused to lift the limit, as it must
            if readonly != b"1" or not held:
                raise RuntimeError("the engine did not apply the reader's limits; refusing to serve")
        finally:
            connection.close()

    # -- the engine's own bookkeeping --------------------------------------------------------

    def _admin_query(self, sql: str, params: dict[str, str]) -> bytes:
        with self._admin_lock:
            result = self._admin_raw.query(
                sql, "TSV", params={k: escape_parameter(v) for k, v in params.items()}
            )
        return bytes(result.bytes())

    def _engine_ids(self, query_id: str) -> list[str]:
        text = self._admin_query(
            "SELECT query_id FROM system.processes WHERE startsWith(query, {m:String})",
            {"m": marker(query_id)},
        )
        return [line for line in text.decode().splitlines() if line]

    def _kill(self, engine_id: str) -> None:
        self._admin_query("KILL QUERY WHERE query_id = {q:String} ASYNC", {"q": engine_id})

    def table_exists(self, database: str, table: str) -> bool:
        text = self._admin_query(
            "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
            {"d": database, "t": table},
        )
        return text.strip() not in (b"", b"0")

    def close(self) -> None:
        self.registry.close()
        self.sessions.close()
        self.connections.close()
        self.parser.close()
        with contextlib.suppress(Exception):
            self._admin_raw.close()
        with contextlib.suppress(Exception):
            self._admin.close()
        self._insert_dir.cleanup()

    def hidden_paths(self) -> tuple[str, ...]:
        return (
            self._insert_dir.name,
            os.path.realpath(self.path),
            self.path,
            str(self.engine_access.directory),
            os.getcwd(),
        )

    # -- a request ---------------------------------------------------------------------------

    def check_settings(self, settings: dict[str, str]) -> None:
        for name, value in settings.items():
            if name not in self.setting_names:
                raise QueryError(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
            if len(value) > 4096:
                raise QueryError(BAD_ARGUMENTS, f"the value of setting {name} is too long")
        refuse_reserved_settings(settings)

    def run(self, request: Request) -> Answer:
        user = request.user
        role, access = self.access(user, request.read_only)
        self.check_settings(request.settings)
        statement = request.insert.head if request.insert else self.parser.parse(request.sql or "")
        if request.read_only and statement.kind not in READ_KINDS:
            raise QueryError(ACCESS_DENIED, "a GET request only reads: send writes with POST")
        if request.session_id:
            session = self.sessions.session(request.session_id, role, request.session_timeout)
            with session.lock:
                answer = self._run(
                    request,
                    statement,
                    access,
                    session.connection,
                    session=True,
                    temporary=frozenset(session.temporary_tables),
                )
                if statement.kind == "CreateQuery" and (statement.ast or {}).get("is_temporary"):
                    session.temporary_tables.add(str((statement.ast or {}).get("table")))
                return answer
        if statement.kind == "SetQuery":
            return self._settings_without_session(request, statement, access, role)
        with self.connections.pooled(role, request.settings) as connection:
            return self._run(request, statement, access, connection, session=False)

    def _current_database(self, request: Request, connection: Connection, session: bool) -> str:
        wanted = request.params.get("database")
        if wanted:
            return wanted
        if session:
            return connection.database or "default"
        return "default"

    def _run(
        self,
        request: Request,
        statement: Statement,
        access: Access,
        connection: Connection,
        session: bool,
        temporary: frozenset[str] = frozenset(),
    ) -> Answer:
        database = self._current_database(request, connection, session)
        key = (access, database, session, temporary, statement.text, bool(request.params.get("database")))
        if key not in self._passed:
            statement, passed_as_is = self._check(statement, access, database, session, temporary, request)
            if passed_as_is:
                with self._passed_lock:
                    self._passed[key] = None
                    while len(self._passed) > PASSED_CHECKS:
                        self._passed.popitem(last=False)
        if statement.kind == "KillQueryQuery":
            return self._kill_query(request, statement, access, connection)
        if statement.kind == "UseQuery" and not session:
            return Answer(b"", DEFAULT_FORMAT, summary(None, 0))  # no lasting effect without a session
        try:
            if database != (connection.database or "default"):
                connection.raw.query(f"USE {identifier(database)}")
                connection.database = database
            if statement.kind == "UseQuery":
                connection.database = str((statement.ast or {}).get("database", {}).get("name"))
            if session and request.settings:
                with settings_for_one_query(connection, request.settings):
                    return self._execute(request, statement, connection)
            return self._execute(request, statement, connection)
        except QueryError:
            raise
        except Exception as ex:
            raise from_engine(ex, self.hidden_paths()) from None

    def _check(
        self,
        statement: Statement,
        access: Access,
        database: str,
        session: bool,
        temporary: frozenset[str],
        request: Request,
    ) -> tuple[Statement, bool]:
        """The statement that may run (the checked one, or its amended tree) and whether the
        decision depended only on the statement and the user (then it can be remembered)."""
        # the parser shares its trees; a check may amend the one it walks
        statement = dataclasses.replace(statement, ast=copy.deepcopy(statement.ast))
        check = Check(
            access,
            database,
            self.functions,
            self.table_exists,
            self.parser.parse,
            session=session,
            temporary_tables=temporary,
        )
        if request.params.get("database"):
            check._database(database, write=False, current=True)
        check.statement(statement)
        if check.amended and statement.ast is not None:
            # run the amended tree; it is parsed and checked again as the text that will run
            statement = self.parser.parse(self.parser.format(statement.ast))
            again = Check(
                access, database, self.functions, self.table_exists, self.parser.parse, session=session
            )
            again.statement(statement)
            return statement, False
        return statement, not check.looked_up_tables

    def _execute(self, request: Request, statement: Statement, connection: Connection) -> Answer:
        fmt = statement.format or request.params.get("default_format") or DEFAULT_FORMAT
        with self.registry.running(request.query_id, request.user.name, request.client) as running:
            if request.insert is not None:
                return self._insert(request, statement, connection)
            try:
                result = connection.raw.query(
                    marker(request.query_id) + statement.text, fmt, params=request.bindings
                )
            except Exception:
                if running.cancelled:
                    raise QueryError(QUERY_WAS_CANCELLED, "Query was cancelled") from None
                raise
        output = bytes(result.bytes()) if hasattr(result, "bytes") else bytes(result)
        return Answer(output, fmt, summary(result, len(output)))

    def _insert(self, request: Request, statement: Statement, connection: Connection) -> Answer:
        assert request.insert is not None
        assert statement.ast is not None
        with tempfile.NamedTemporaryFile(
            dir=self._insert_dir.name, prefix="insert-", suffix=".bin"
        ) as handle:
            for piece in request.data:
                if isinstance(piece, bytes):
                    handle.write(piece)
                else:
                    body, offset = piece
                    body.copy_to(handle, offset)
            handle.flush()
            tree = dict(statement.ast)
            tree["infile"] = {"type": "Literal", "value": {"field_type": "String", "value": handle.name}}
            tree["format"] = request.insert.format
            text = self.parser.format(tree)
            result = connection.raw.query(
                marker(request.query_id) + text, "TabSeparated", params=request.bindings
            )
        return Answer(b"", "TabSeparated", summary(result, 0))

    def _settings_without_session(
        self, request: Request, statement: Statement, access: Access, role: Role
    ) -> Answer:
        """A SET outside a session: the engine judges it on a connection nobody reuses (ClickHouse's
        HTTP interface keeps no settings between requests without a session either)."""
        self._check(statement, access, "default", False, frozenset(), request)
        connection = self.connections.open(role, request.settings)
        try:
            connection.raw.query(statement.text)
        except Exception as ex:
            raise from_engine(ex, self.hidden_paths()) from None
        finally:
            connection.close()
        return Answer(b"", DEFAULT_FORMAT, summary(None, 0))

    def _kill_query(
        self, request: Request, statement: Statement, access: Access, connection: Connection
    ) -> Answer:
        """KILL QUERY of the endpoint's own queries, answered as ClickHouse does (endpoint/kill.py)."""
        params = kill(self.registry, statement, request.user.name, access.writes)
        fmt = statement.format or request.params.get("default_format") or DEFAULT_FORMAT
        result = connection.raw.query(KILL_ANSWER, fmt, params=params)
        output = bytes(result.bytes())
        return Answer(output, fmt, summary(result, len(output)))
