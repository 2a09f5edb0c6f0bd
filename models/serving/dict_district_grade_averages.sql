-- District-by-grade averages, for the student-in-context lookups (srv_student_context).
{{ config(**dictionary_config(
    [('school_year', 'UInt16'), ('state_id', 'String'), ('district_id', 'String'), ('test_id', 'String'),
     ('subject', 'String'), ('grade', 'UInt8')],
    [('avg_score', 'Float64'), ('student_count', 'UInt64')],
    'agg_district_grade_scores',
)) }}

with

aggregates as (
    select * from {{ ref('agg_district_grade_scores') }}
)

select
    school_year,
    state_id,
    district_id,
    test_id,
    subject,
    grade,
    avg_score,
    student_count
from aggregates
