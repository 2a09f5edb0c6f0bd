-- The design's Query 1 (classroom report of a teacher on a test) as one dictionary lookup.
{%- set key = [('school_year', 'UInt16'), ('teacher_id', 'String'), ('test_id', 'String')] -%}
{%- set row = [
    ('teacher_id', 'String', 'teacher_id'),
    ('teacher_name', 'String', 'teacher_name'),
    ('test_id', 'String', 'toString(test_id)'),
    ('subject', 'String', 'toString(subject)'),
    ('student_count', 'UInt64', 'student_count'),
    ('avg_score', 'Float64', 'avg_score'),
    ('median_score', 'Float64', 'median_score'),
    ('excellent_count', 'UInt64', 'excellent_count'),
    ('good_count', 'UInt64', 'good_count'),
    ('fair_count', 'UInt64', 'fair_count'),
    ('needs_improvement_count', 'UInt64', 'needs_improvement_count'),
] -%}
{{ config(**report_lookup_config(key, row, 'agg_classroom_scores')) }}

{{ report_lookup(ref('agg_classroom_scores'), key, row, sort_by='subject') }}
