{#-
    The design's Query 4 as one key lookup: a teacher's students on a test, each beside the
    classroom, school-grade and district-grade averages (small groups suppressed), by student_id.
    The students come from the key-value table (one point read by classroom_key, which the
    engine pushes through this view), the averages from the averages dictionaries as the row is
    read, so a build that changes an average rewrites no classroom:
        SELECT report_rows FROM scores.srv_student_context_report
        WHERE classroom_key = (2025, 'T642', 'ELA-Q1')
-#}
{{ config(materialized='view') }}
{%- set averages = {
    'classroom': ref('dict_classroom_averages'),
    'school_grade': ref('dict_school_grade_averages'),
    'district_grade': ref('dict_district_grade_averages'),
} -%}
{%- set student = "tupleElement(student, '{}')" -%}
{%- set row = [
    ('student_id', 'String', student.format('student_id')),
    ('overall_score', 'UInt8', student.format('overall_score')),
    ('performance_level', 'UInt8', student.format('performance_level')),
    ('dimension_scores', 'String', student.format('dimension_scores')),
    ('classroom_avg_score', 'Nullable(Float64)', student_context_average(averages, 'classroom', student)),
    ('school_grade_avg_score', 'Nullable(Float64)', student_context_average(averages, 'school_grade', student)),
    ('district_grade_avg_score', 'Nullable(Float64)', student_context_average(averages, 'district_grade', student)),
] -%}

with

classrooms as (
    select * from {{ ref('kv_classroom_students') }}
)

select
    classroom_key,
    {{ report_rows_of('student', 'student_rows', row) }} as report_rows
from classrooms
