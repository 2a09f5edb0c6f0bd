"""Roster users of ``scores serve``: the engine's row policies and each user's access.

chDB runs every connection as ``default``, so the endpoint cannot hand the engine a user name.
What it can hand over is a setting the user can never change: each connection of a scoped user
carries its scope in ``log_comment`` (``scores-scope:<role>:<id>,<id>``), fixed by the reader
profile's constraint and by ``readonly = 1`` (endpoint/engine_access.py). The engine's users
configuration holds one row policy per object of loaders/roles.py; a policy reads the scope from
``getSetting('log_comment')``:
  * no scope (writers, unscoped readers): every row;
  * a scoped role listed for the object: the rows whose scope column is one of the ids;
  * anything else: no row (fail closed).
Row policies are applied by the engine wherever the object is read (a subquery, a JOIN, a CTE,
``SELECT`` on a dictionary or the key-value table). On a view they filter the view's output, so the
report views suppress small groups over all rows first. ``dictGet`` does not go through row
policies, so the policy check (endpoint/policy.py) refuses it to scoped users, as it refuses every
object outside their role's list, the schema databases and the system tables that show data.
"""

from __future__ import annotations

import functools

from endpoint.access import Access
from endpoint.engine_access import SCOPE_PREFIX
from loaders.roles import ENGINEER, SCOPE_COLUMNS, SCOPED_OBJECTS, STATE, readable
from loaders.roster import Entry

_COMMENT = "getSetting('log_comment')"


def scope_comment(entry: Entry) -> str:
    """The ``log_comment`` of a roster user's connections ('' for the unscoped engineer)."""
    if entry.role == ENGINEER:
        return ""
    return f"{SCOPE_PREFIX}{entry.role}:{','.join(entry.scope)}"


def row_filter(table: str) -> str:
    """The row policy condition of one object (SCOPED_OBJECTS), for the engine's users config."""
    ids = f"splitByChar(',', arrayElement(splitByChar(':', {_COMMENT}), 3))"
    branches = [
        f"NOT startsWith({_COMMENT}, '{SCOPE_PREFIX}')",
        "1",
        f"startsWith({_COMMENT}, '{SCOPE_PREFIX}{STATE}:')",
        "1",
    ]
    for role, column in SCOPED_OBJECTS[table].items():
        branches += [f"startsWith({_COMMENT}, '{SCOPE_PREFIX}{role}:')", f"has({ids}, toString({column}))"]
    return f"multiIf({', '.join(branches)}, 0)"


def row_policies(database: str) -> dict[tuple[str, str], str]:
    """(database, object) -> condition, for every scoped object of the dbt schema."""
    return {(database, table): row_filter(table) for table in SCOPED_OBJECTS}


@functools.lru_cache(maxsize=4096)  # asked on every request of a roster user
def roster_access(entry: Entry, databases: frozenset[str], database: str) -> Access:
    """What a roster user may do: read-only; the engineer every table, the others only their
    role's objects of the dbt schema, and no dictGet for a scoped role (it skips row policies)."""
    if entry.role == ENGINEER:
        return Access(entry.user, writes=False, databases=databases)
    return Access(
        entry.user,
        writes=False,
        databases=databases,
        tables=frozenset((database, table) for table in readable(entry.role)),
        dictionaries=entry.role not in SCOPE_COLUMNS,
    )
