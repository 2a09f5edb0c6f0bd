-- School-by-grade averages, for the student-in-context lookups (srv_student_context).
{{ config(**dictionary_config(
    [('school_year', 'UInt16'), ('district_id', 'String'), ('school_id', 'String'), ('test_id', 'String'),
     ('subject', 'String'), ('grade', 'UInt8')],
    [('avg_score', 'Float64'), ('student_count', 'UInt64')],
    'agg_school_grade_scores',
)) }}

with

aggregates as (
    select * from {{ ref('agg_school_grade_scores') }}
)

select
    school_year,
    district_id,
    school_id,
    test_id,
    subject,
    grade,
    avg_score,
    student_count
from aggregates
