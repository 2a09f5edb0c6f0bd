-- Classroom averages by classroom key, small groups suppressed (rpt_classroom_scores),
-- for the student-in-context lookups (srv_student_context).
{%- set key = [
    ('school_year', 'UInt16'),
    ('teacher_id', 'String'),
    ('test_id', 'String'),
    ('subject', 'String'),
    ('school_id', 'String'),
    ('district_id', 'String'),
] -%}
{{ config(**dictionary_config(key, published_averages(), 'rpt_classroom_scores')) }}

with

aggregates as (
    select * from {{ ref('rpt_classroom_scores') }}
)

select
    school_year,
    teacher_id,
    test_id,
    subject,
    school_id,
    district_id,
    avg_score,
    student_count
from aggregates
