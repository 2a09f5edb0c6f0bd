-- The design's Query 2 (a school's grades on a test) as one dictionary lookup, small groups
-- suppressed (rpt_school_grade_scores).
{%- set key = [('school_year', 'UInt16'), ('school_id', 'String'), ('test_id', 'String')] -%}
{%- set row = [
    ('grade', 'UInt8', 'grade'),
    ('subject', 'String', 'toString(subject)'),
] + published_columns(['student_count', 'avg_score', 'median_score', 'score_stddev']) -%}
{{ config(**report_lookup_config(key, row, 'rpt_school_grade_scores')) }}

with

school_grades as (
    select * from {{ ref('rpt_school_grade_scores') }}
)

{{ report_lookup('school_grades', key, row, sort_by='grade') }}
