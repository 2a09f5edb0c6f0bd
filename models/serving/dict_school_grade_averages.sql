-- School-by-grade averages as published (small groups suppressed, rpt_school_grade_scores),
-- for the student-in-context lookups (srv_student_context).
{{ config(**dictionary_config(
    [('school_year', 'UInt16'), ('district_id', 'String'), ('school_id', 'String'), ('test_id', 'String'),
     ('subject', 'String'), ('grade', 'UInt8')],
    published_averages(),
    'rpt_school_grade_scores',
)) }}

with

aggregates as (
    select * from {{ ref('rpt_school_grade_scores') }}
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
