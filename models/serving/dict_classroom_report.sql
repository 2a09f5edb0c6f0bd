-- The design's Query 1 (classroom report of a teacher on a test) as one dictionary lookup, small
-- groups suppressed (rpt_classroom_scores).
{%- set key = [('school_year', 'UInt16'), ('teacher_id', 'String'), ('test_id', 'String')] -%}
{%- set row = [
    ('teacher_id', 'String', 'teacher_id'),
    ('teacher_name', 'String', 'teacher_name'),
    ('test_id', 'String', 'toString(test_id)'),
    ('subject', 'String', 'toString(subject)'),
] + published_columns([
    'student_count', 'avg_score', 'median_score',
    'excellent_count', 'good_count', 'fair_count', 'needs_improvement_count',
]) -%}
{{ config(**report_lookup_config(key, row, 'rpt_classroom_scores')) }}

with

classrooms as (
    select * from {{ ref('rpt_classroom_scores') }}
)

{{ report_lookup('classrooms', key, row, sort_by='subject') }}
