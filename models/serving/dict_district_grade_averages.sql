-- District-by-grade averages as published (small groups suppressed, rpt_district_grade_scores),
-- for the student-in-context lookups (srv_student_context).
{%- set key = grade_averages_key(['state_id', 'district_id']) -%}
{{ config(**dictionary_config(key, published_averages(), 'rpt_district_grade_scores')) }}

with

district_grades as (
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
from district_grades
