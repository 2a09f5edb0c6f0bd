"""The report API's questions, each answered by one lookup in the serving layer.

The one home of the API's report queries. Every answer is one read of the serving layer, built
from the report views with small groups suppressed: a dictionary entry (Queries 1-3), replaced
whole by a build, or for Query 4 a key-value row of a classroom's students completed with the
averages dictionaries as it is read (srv_student_context_report), so that a build rewrites only
the classrooms whose scores changed. Read while a build runs, that answer may hold the students
of one build beside the averages of the other; an answer looked up while a build ran is served
but never cached (api/cache.py), so the cache holds only answers of one finished build.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSROOM = "classroom"
SCHOOL_GRADES = "school_grades"
STATE_DISTRICTS = "state_districts"
STUDENTS = "students"
MY_CLASSROOMS = "my_classrooms"
TESTS = "tests"
DISTRICT_SCHOOLS = "district_schools"


@dataclass(frozen=True)
class Query:
    sql: str
    parameters: tuple[tuple[str, str], ...]  # (name, ClickHouse type), in key order
    # the answer's rows are one array in the first column (a lookup); else a row per result row,
    # with these names
    columns: tuple[str, ...] = ()

    @property
    def one_array(self) -> bool:
        return not self.columns


def queries(database: str) -> dict[str, Query]:
    db = f"`{database}`"
    return {
        CLASSROOM: Query(
            f"SELECT dictGet('{database}.dict_classroom_report', 'report_rows', "
            "({school_year:UInt16}, {teacher_id:String}, {test_id:String}))",
            (("school_year", "UInt16"), ("teacher_id", "String"), ("test_id", "String")),
        ),
        SCHOOL_GRADES: Query(
            f"SELECT dictGet('{database}.dict_school_grade_report', 'report_rows', "
            "({school_year:UInt16}, {school_id:String}, {test_id:String}))",
            (("school_year", "UInt16"), ("school_id", "String"), ("test_id", "String")),
        ),
        STATE_DISTRICTS: Query(
            f"SELECT dictGet('{database}.dict_state_district_report', 'report_rows', "
            "({school_year:UInt16}, {state_id:String}))",
            (("school_year", "UInt16"), ("state_id", "String")),
        ),
        STUDENTS: Query(
            f"SELECT report_rows FROM {db}.srv_student_context_report "
            "WHERE classroom_key = ({school_year:UInt16}, {teacher_id:String}, {test_id:String})",
            (("school_year", "UInt16"), ("teacher_id", "String"), ("test_id", "String")),
        ),
        TESTS: Query(
            f"SELECT test_id, subject, count() AS classrooms FROM {db}.rpt_classroom_scores "
            "WHERE school_year = {school_year:UInt16} GROUP BY test_id, subject ORDER BY test_id",
            (("school_year", "UInt16"),),
            columns=("test_id", "subject", "classrooms"),
        ),
        DISTRICT_SCHOOLS: Query(
            f"SELECT school_id, any(school_name) AS school_name FROM {db}.rpt_school_grade_scores "
            "WHERE school_year = {school_year:UInt16} AND district_id = {district_id:String} "
            "GROUP BY school_id ORDER BY school_id",
            (("school_year", "UInt16"), ("district_id", "String")),
            columns=("school_id", "school_name"),
        ),
        MY_CLASSROOMS: Query(
            f"SELECT school_year, teacher_id, test_id, toString(subject) AS subject, school_id, district_id "
            f"FROM {db}.rpt_classroom_scores "
            "WHERE has({teachers:Array(String)}, teacher_id) OR has({schools:Array(String)}, school_id) "
            "OR has({districts:Array(String)}, district_id) "
            "ORDER BY school_year DESC, teacher_id, test_id",
            (("teachers", "Array(String)"), ("schools", "Array(String)"), ("districts", "Array(String)")),
            columns=("school_year", "teacher_id", "test_id", "subject", "school_id", "district_id"),
        ),
    }


# the maps from a teacher or a school to the school and district it belongs to, for scope checks
SCOPE_MAPS_SQL = {
    "teacher": "SELECT teacher_id, groupUniqArray(school_id), groupUniqArray(district_id) "
    "FROM `{database}`.rpt_classroom_scores GROUP BY teacher_id",
    "school": "SELECT school_id, [school_id], groupUniqArray(district_id) "
    "FROM `{database}`.rpt_school_grade_scores GROUP BY school_id",
}

# the current build: the newest run that succeeded and changed the models; and whether the
# serving layer may be changing now (a run started after the newest finished one, or that one
# failed), when answers are served but not cached
BUILD_STATE_SQL = """
SELECT
    (SELECT argMax(invocation_id, published_at) FROM `{state}`.dbt_published_builds
     WHERE succeeded = 1 AND changed = 1) AS build,
    (SELECT max(started_at) FROM `{state}`.dbt_run_snapshots)
        > (SELECT max(published_at) FROM `{state}`.dbt_published_builds)
    OR (SELECT argMax(succeeded, published_at) FROM `{state}`.dbt_published_builds) = 0 AS changing
"""
