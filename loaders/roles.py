"""The roles of the roster and what each may read: the one home of the access rules.

Roles (loaders/roster.py loads who has which):
  teacher    own classrooms (scope: teacher ids)
  principal  own school (scope: school ids)
  district   own district (scope: district ids)
  state      every report row, no raw or per-score tables
  engineer   everything, raw and facts included (read-only)

A scoped role (teacher, principal, district) reads only the published objects listed in
``SCOPED_OBJECTS`` that carry its scope column, and of those only the rows of its scope. The
report views (rpt_*) suppress small groups over all rows first, and the scope filters their output,
so a hidden group is hidden the same way for everyone. The same catalogue gives ``scores serve``
its row policies (endpoint/scopes.py) and a ClickHouse server its users, roles and row policies
(loaders/roster.py, ``scores roster sql``).
"""

from __future__ import annotations

from typing import Final

TEACHER: Final = "teacher"
PRINCIPAL: Final = "principal"
DISTRICT: Final = "district"
STATE: Final = "state"
ENGINEER: Final = "engineer"
ROLES: Final = (TEACHER, PRINCIPAL, DISTRICT, STATE, ENGINEER)
# the column of the landed scores that a scope id of each scoped role names
SCOPE_COLUMNS: Final = {TEACHER: "teacher_id", PRINCIPAL: "school_id", DISTRICT: "district_id"}
SCOPED_ROLES: Final = tuple(SCOPE_COLUMNS)

_EVERY_LEVEL = {TEACHER: "teacher_id", PRINCIPAL: "school_id", DISTRICT: "district_id"}
# object of the dbt schema -> scoped role -> the expression of its rows that names the scope id;
# a scoped role not listed for an object cannot read it (the state role reads them all)
SCOPED_OBJECTS: Final[dict[str, dict[str, str]]] = {
    "rpt_classroom_scores": _EVERY_LEVEL,
    "rpt_dimension_scores": _EVERY_LEVEL,
    "rpt_school_grade_scores": {PRINCIPAL: "school_id", DISTRICT: "district_id"},
    "rpt_district_grade_scores": {DISTRICT: "district_id"},
    "rpt_district_scores": {DISTRICT: "district_id"},
    "srv_student_context": _EVERY_LEVEL,
    "srv_student_scores_by_teacher": _EVERY_LEVEL,
    "dict_classroom_report": {TEACHER: "teacher_id"},
    "dict_school_grade_report": {PRINCIPAL: "school_id"},
    "kv_classroom_students": {TEACHER: "tupleElement(classroom_key, 2)"},
    "srv_student_context_report": {TEACHER: "tupleElement(classroom_key, 2)"},
    "dict_state_district_report": {},
}
# reference data (seeds) every role reads whole: no row names a student or a group
REFERENCE_TABLES: Final = ("subjects", "tests", "score_bands", "performance_levels")


def readable(role: str) -> frozenset[str]:
    """The objects of the dbt schema a role reads (engineer: not listed, it reads everything)."""
    if role == STATE:
        return frozenset(SCOPED_OBJECTS) | frozenset(REFERENCE_TABLES)
    return frozenset(name for name, scopes in SCOPED_OBJECTS.items() if role in scopes) | frozenset(
        REFERENCE_TABLES
    )


def row_clause(role: str, scope: tuple[str, ...], table: str) -> str | None:
    """The SQL condition a role's rows of ``table`` meet: None for every row, ``1 = 0`` for an
    object the role does not read (BI tools such as Superset apply it as a row-level filter)."""
    if role == ENGINEER or table in REFERENCE_TABLES:
        return None
    if table not in SCOPED_OBJECTS:
        return "1 = 0"
    if role == STATE:
        return None
    column = SCOPED_OBJECTS[table].get(role)
    if column is None or not scope:
        return "1 = 0"
    ids = ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in scope)
    return f"{column} IN ({ids})"
