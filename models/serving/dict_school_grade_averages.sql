-- School-by-grade averages as published (small groups suppressed, rpt_school_grade_scores),
-- for the student-in-context lookups (srv_student_context).
{%- set key = grade_averages_key(['district_id', 'school_id']) -%}
{{ config(**dictionary_config(key, published_averages(), 'rpt_school_grade_scores')) }}

with

school_grades as (
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
from school_grades
