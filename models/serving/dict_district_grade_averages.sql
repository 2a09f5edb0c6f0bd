-- District-by-grade averages as published (small groups suppressed, rpt_district_grade_scores),
-- for the student-in-context lookups (srv_student_context).
{{ config(**dictionary_config(
    [('school_year', 'UInt16'), ('state_id', 'String'), ('district_id', 'String'), ('test_id', 'String'),
     ('subject', 'String'), ('grade', 'UInt8')],
    published_averages(),
    'rpt_district_grade_scores',
)) }}

with

aggregates as (
    select * from {{ ref('rpt_district_grade_scores') }}
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
