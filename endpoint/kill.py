"""KILL QUERY through ``scores serve``: the endpoint answers it for the queries it runs, by their
client ids (endpoint/running.py), in the shape ClickHouse gives the answer."""

from __future__ import annotations

from endpoint.errors import ACCESS_DENIED, BAD_ARGUMENTS, SYNTAX_ERROR, QueryError
from endpoint.parsing import Statement, escape_parameter, string_literal
from endpoint.running import Registry

# the answer of KILL QUERY, in the shape ClickHouse gives it (kill_status, query_id, user)
KILL_ANSWER = """
SELECT 'finished' AS kill_status, tupleElement(r, 1) AS query_id, tupleElement(r, 2) AS user
FROM (SELECT arrayJoin(CAST({rows:String}, 'Array(Tuple(String, String))')) AS r)
"""


def kill(registry: Registry, statement: Statement, user: str, writes: bool) -> dict[str, str]:
    """KILL QUERY WHERE query_id = '<id>' (or IN (...)): cancel the endpoint's own queries of those
    ids (a reader's own only); the parameters of KILL_ANSWER, the queries cancelled."""
    rows = []
    for query_id in _kill_ids(statement):
        owner = registry.owner(query_id)
        if owner is None:
            continue
        if owner != user and not writes:
            raise QueryError(ACCESS_DENIED, f"{user}: query {query_id} belongs to another user")
        if registry.cancel(query_id):
            rows.append((query_id, owner))
    return {"rows": escape_parameter(_array_literal(rows))}


def _kill_ids(statement: Statement) -> list[str]:
    where = (statement.ast or {}).get("where_expression")
    if where is None:
        raise QueryError(SYNTAX_ERROR, "KILL QUERY needs WHERE query_id = '<id>'")
    name = str(where.get("name", ""))
    arguments = (where.get("arguments") or {}).get("children") or []
    if name in ("equals", "in") and len(arguments) == 2 and arguments[0].get("name") == "query_id":
        value = arguments[1].get("value") or {}
        if value.get("field_type") == "String":
            return [str(value.get("value"))]
        if value.get("field_type") == "Tuple":
            return [str(v.get("value")) for v in value.get("value") or [] if v.get("field_type") == "String"]
    raise QueryError(
        BAD_ARGUMENTS, "only KILL QUERY WHERE query_id = '<id>' (or IN ('<id>', ...)) is supported"
    )


def _array_literal(rows: list[tuple[str, str]]) -> str:
    return "[" + ", ".join(f"({string_literal(a)}, {string_literal(b)})" for a, b in rows) + "]"
