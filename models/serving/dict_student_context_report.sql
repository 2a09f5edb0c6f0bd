-- The design's Query 4 (a teacher's students on a test, each beside the classroom, school-grade
-- and district-grade averages) as one dictionary lookup.
{%- set key = [('school_year', 'UInt16'), ('teacher_id', 'String'), ('test_id', 'String')] -%}
{%- set row = [
    ('student_id', 'String', 'student_id'),
    ('overall_score', 'UInt8', 'overall_score'),
    ('performance_level', 'UInt8', 'performance_level'),
    ('dimension_scores', 'String', 'dimension_scores'),
    ('classroom_avg_score', 'Float64', 'classroom_avg_score'),
    ('school_grade_avg_score', 'Float64', 'school_grade_avg_score'),
    ('district_grade_avg_score', 'Float64', 'district_grade_avg_score'),
] -%}
{{ config(**report_lookup_config(key, row)) }}

{{ report_lookup(ref('mart_student_context'), key, row, sort_by='student_id') }}
