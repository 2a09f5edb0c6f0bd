"""The staff roster: who has which role (loaders/roles.py) over which teachers, schools or districts.

A roster file is CSV with a header ``user,role,scope``: one row per user and scope id (a teacher
with two classrooms' ids, a principal of two schools: two rows; state and engineer rows leave
scope empty). ``scores roster load FILE`` replaces the whole roster at once:

* every row is checked first: a user name of letters, digits and ``_-.@``; a role of
  loaders/roles.py; a scope id for a scoped role and none for the others; a scope id that names
  a teacher, school or district of the landed scores; one role per user. The first problems are
  reported with the file, row and column, and nothing of that file is applied;
* the roster table (``<raw db>.staff_roster``) is then swapped in whole (EXCHANGE TABLES), so a
  reader sees the old roster or the new one, never a mix.

``scores serve`` reads a user's role and scope from the roster on each request of a user whose
role in the users file is ``roster``, so a user removed from the roster is refused at its next
request. ``render_access_sql`` turns the same roster into ClickHouse users, roles, grants and row
policies for a server or cluster target.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from loaders.roles import ENGINEER, ROLES, SCOPE_COLUMNS, SCOPED_OBJECTS, readable, row_clause

ROSTER_TABLE = "staff_roster"
HEADER = ("user", "role", "scope")
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@")
# scope ids travel in a list separated by commas and colons (endpoint/scopes.py): neither may be in one
ID_CHARACTERS = NAME_CHARACTERS - {"@"}
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Entry:
    """One user of the roster: a role and, for a scoped role, the ids it covers."""

    user: str
    role: str
    scope: tuple[str, ...] = ()


class RosterError(ValueError):
    """A roster that cannot be applied; the message names the file, rows and columns."""


def parse(text: str, source: str, known: dict[str, frozenset[str]]) -> list[Entry]:
    """The entries of a roster file, or RosterError listing its problems. ``known``: scoped role ->
    the ids the landed scores have for it."""
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != HEADER:
        raise RosterError(
            f"{source}: row 1: the header must be {','.join(HEADER)}, not {','.join(header or [])!r}"
        )
    roles: dict[str, str] = {}
    scopes: dict[str, list[str]] = {}
    first_row: dict[str, int] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            problems.append(
                f"{source}: row {number}: {len(row)} fields, expected {len(HEADER)} ({','.join(HEADER)})"
            )
            continue
        user, role, scope = (cell.strip() for cell in row)
        where = f"{source}: row {number}"
        if not user or not set(user) <= NAME_CHARACTERS or len(user) > 64:
            problems.append(
                f"{where}, column user: {user!r} is not a user name (letters, digits, _-.@, 1-64)"
            )
            continue
        if role not in ROLES:
            problems.append(f"{where}, column role: {role!r} is not a role ({', '.join(ROLES)})")
            continue
        if user in roles and roles[user] != role:
            problems.append(
                f"{where}, column role: {user} is {roles[user]} in row {first_row[user]}, not also {role}"
            )
            continue
        roles.setdefault(user, role)
        first_row.setdefault(user, number)
        scopes.setdefault(user, [])
        if role in SCOPE_COLUMNS:
            kind = SCOPE_COLUMNS[role].removesuffix("_id")
            if not scope:
                problems.append(f"{where}, column scope: a {role} needs the {kind} id it covers")
            elif not set(scope) <= ID_CHARACTERS:
                problems.append(f"{where}, column scope: {scope!r} is not an id (letters, digits, _-.)")
            elif scope not in known.get(role, frozenset()):
                problems.append(f"{where}, column scope: no {kind} {scope!r} in the landed scores")
            elif scope not in scopes[user]:
                scopes[user].append(scope)
        elif scope:
            problems.append(f"{where}, column scope: a {role} covers everything, so scope stays empty")
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        more = " (and maybe more)" if len(problems) >= MAX_PROBLEMS else ""
        raise RosterError("nothing of the roster was applied:\n  " + "\n  ".join(problems) + more)
    return [Entry(user, roles[user], tuple(sorted(scopes[user]))) for user in roles]


def known_ids(client: Client, raw_database: str) -> dict[str, frozenset[str]]:
    """Scoped role -> the ids of its kind in the landed scores."""
    columns = list(SCOPE_COLUMNS.items())
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = 'student_scores'",
        parameters={"d": raw_database},
    )
    if not exists:
        raise RosterError(f"{raw_database}.student_scores does not exist: load scores before the roster")
    selects = ", ".join(f"groupUniqArray({column})" for _, column in columns)
    (row,) = client.query(f"SELECT {selects} FROM `{raw_database}`.student_scores").result_rows
    return {role: frozenset(str(v) for v in values) for (role, _), values in zip(columns, row, strict=True)}


def roster_ddl(raw_database: str, table: str = ROSTER_TABLE) -> str:
    return f"""
        CREATE TABLE IF NOT EXISTS `{raw_database}`.`{table}` (
            `user` String COMMENT 'User name (the scores serve users file, a server user)',
            `role` LowCardinality(String) COMMENT 'Role (loaders/roles.py)',
            `scope` Array(String) COMMENT 'Teacher, school or district ids the role covers',
            `loaded_at` DateTime64(3) DEFAULT now64(3) COMMENT 'When this roster was loaded'
        ) ENGINE = MergeTree ORDER BY user
        COMMENT 'Staff roster: role and scope of each user (scores roster load)'
    """


def apply(client: Client, raw_database: str, entries: list[Entry]) -> None:
    """Replace the roster with ``entries`` in one swap."""
    staging = f"{ROSTER_TABLE}__loading"
    client.command(f"CREATE DATABASE IF NOT EXISTS `{raw_database}`")
    client.command(roster_ddl(raw_database))
    client.command(f"DROP TABLE IF EXISTS `{raw_database}`.`{staging}`")
    client.command(roster_ddl(raw_database, staging))
    if entries:
        client.insert(
            f"`{raw_database}`.`{staging}`",
            [[e.user, e.role, list(e.scope)] for e in entries],
            column_names=["user", "role", "scope"],
        )
    client.command(f"EXCHANGE TABLES `{raw_database}`.`{staging}` AND `{raw_database}`.`{ROSTER_TABLE}`")
    client.command(f"DROP TABLE IF EXISTS `{raw_database}`.`{staging}`")


def load_file(client: Client, raw_database: str, path: Path) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as ex:
        raise RosterError(f"{path}: cannot read the roster: {ex}") from None
    entries = parse(text, str(path), known_ids(client, raw_database))
    apply(client, raw_database, entries)
    return entries


def lookup_sql(raw_database: str) -> str:
    """One user's role and scope ids (joined by commas), for ``{u:String}``: what ``scores serve``
    and the report API read to know who asks."""
    return (
        f"SELECT role, arrayStringConcat(scope, ',') FROM `{raw_database}`.`{ROSTER_TABLE}` "
        "WHERE user = {u:String} LIMIT 1"
    )


def entry_of(user: str, role: str, scope: str) -> Entry:
    """The entry of a ``lookup_sql`` row."""
    return Entry(user, role, tuple(i for i in scope.split(",") if i))


def read(client: Client, raw_database: str) -> list[Entry]:
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        parameters={"d": raw_database, "t": ROSTER_TABLE},
    )
    if not exists:
        return []
    rows = client.query(
        f"SELECT user, role, scope FROM `{raw_database}`.`{ROSTER_TABLE}` ORDER BY user"
    ).result_rows
    return [Entry(str(user), str(role), tuple(scope)) for user, role, scope in rows]


# -- a server or cluster target ------------------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _name(text: str) -> str:
    return "`" + text.replace("`", "``") + "`"


def render_access_sql(
    entries: Iterable[Entry],
    database: str,
    raw_database: str,
    password_hashes: dict[str, str],
    cluster: str | None = None,
) -> list[str]:
    """ClickHouse statements that give a server (or a cluster, ON CLUSTER) the roster's access:
    a role per roster role with its grants, a user per entry (password: the SHA-256 of the serve
    users file) and row policies on every scoped object. A table with row policies shows a user
    covered by none of them no rows, so the unscoped (state, engineer, and every other user: dbt,
    loaders) get a policy letting them see all rows."""
    on_cluster = f" ON CLUSTER {_name(cluster)}" if cluster else ""
    entries = list(entries)
    statements: list[str] = []
    for role in ROLES:
        statements.append(f"CREATE ROLE IF NOT EXISTS {_name('scores_' + role)}{on_cluster}")
        if role == ENGINEER:
            targets = [f"{_name(database)}.*", f"{_name(raw_database)}.*"]
        else:
            targets = [f"{_name(database)}.{_name(table)}" for table in sorted(readable(role))]
        for target in targets:
            statements.append(f"GRANT{on_cluster} SELECT ON {target} TO {_name('scores_' + role)}")
    for entry in entries:
        digest = password_hashes.get(entry.user)
        if digest is None:
            raise RosterError(f"roster user {entry.user} has no password in the users file")
        statements.append(
            f"CREATE USER IF NOT EXISTS {_name(entry.user)}{on_cluster} "
            f"IDENTIFIED WITH sha256_hash BY {_quote(digest)} DEFAULT ROLE {_name('scores_' + entry.role)}"
        )
        statements.append(f"GRANT{on_cluster} {_name('scores_' + entry.role)} TO {_name(entry.user)}")
    scoped = [e for e in entries if e.role in SCOPE_COLUMNS]
    for table in sorted(SCOPED_OBJECTS):
        target = f"{_name(database)}.{_name(table)}"
        everyone = " TO ALL" + (" EXCEPT " + ", ".join(_name(e.user) for e in scoped) if scoped else "")
        statements.append(
            f"CREATE ROW POLICY OR REPLACE scores_unscoped{on_cluster} ON {target} "
            f"FOR SELECT USING 1{everyone}"
        )
        for entry in scoped:
            if entry.role not in SCOPED_OBJECTS[table]:
                continue  # no grant either: the role does not read this object
            statements.append(
                f"CREATE ROW POLICY OR REPLACE {_name('scores_' + entry.user)}{on_cluster} ON {target} "
                f"FOR SELECT USING {row_clause(entry.role, entry.scope, table)} TO {_name(entry.user)}"
            )
    return statements


def as_json(entries: Iterable[Entry], tables: Iterable[str]) -> list[dict[str, object]]:
    """The roster for BI tools: each user's role, scope and row filter per table (None: every
    row; ``1 = 0``: none), as loaders/roles.py states them (bi/superset applies them as RLS)."""
    names = sorted(set(tables))
    return [
        {
            "user": e.user,
            "role": e.role,
            "scope": list(e.scope),
            "filters": {t: row_clause(e.role, e.scope, t) for t in names},
        }
        for e in entries
    ]
