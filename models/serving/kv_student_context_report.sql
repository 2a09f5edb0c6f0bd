{#-
    The design's Query 4 (a teacher's students on a test, each beside the classroom, school-grade
    and district-grade averages) as one key lookup: an EmbeddedRocksDB table (on disk, not held
    in memory like a dictionary) keyed by (school_year, teacher_id, test_id), the value the
    report's rows. Rebuilt from mart_student_context on every build and swapped in atomically.
-#}
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
{{ config(
    materialized='table',
    engine='EmbeddedRocksDB()',
    primary_key='classroom_key',
    query_settings={'optimize_aggregation_in_order': 1},
) }}

{{ report_lookup(ref('mart_student_context'), key, row, sort_by='student_id', key_column='classroom_key') }}
