-- The design's Query 2 (a school's grades on a test) as one dictionary lookup.
{%- set key = [('school_year', 'UInt16'), ('school_id', 'String'), ('test_id', 'String')] -%}
{%- set row = [
    ('grade', 'UInt8', 'grade'),
    ('subject', 'String', 'toString(subject)'),
    ('student_count', 'UInt64', 'student_count'),
    ('avg_score', 'Float64', 'avg_score'),
    ('median_score', 'Float64', 'median_score'),
    ('score_stddev', 'Float64', 'score_stddev'),
] -%}
{{ config(**report_lookup_config(key, row, 'agg_school_grade_scores')) }}

{{ report_lookup(ref('agg_school_grade_scores'), key, row, sort_by='grade') }}
