{#-
    Each student's score beside the classroom, school (same grade) and district (same grade)
    averages: the design's Query 4 without joins. Student rows come from a table sorted by
    teacher and test; the averages are dictionary lookups on the aggregate marts.
-#}
{{ config(materialized='view') }}
{%- set averages = {
    'classroom': ref('dict_classroom_averages'),
    'school_grade': ref('dict_school_grade_averages'),
    'district_grade': ref('dict_district_grade_averages'),
} -%}

with

scores as (
    select * from {{ ref('srv_student_scores_by_teacher') }}
),

names as (
    select * from {{ ref('int_current_names') }}
)

select
    scores.school_year as school_year,
    scores.teacher_id as teacher_id,
    scores.test_id as test_id,
    scores.student_id as student_id,
    scores.district_id as district_id,
    scores.school_id as school_id,
    scores.state_id as state_id,
    scores.subject as subject,
    scores.grade as grade,
    scores.test_date as test_date,
    scores.overall_score as overall_score,
    scores.performance_level as performance_level,
    scores.dimension_scores as dimension_scores,
    -- the current names of the ids (macros/current_names.sql), as in every mart
    teacher_name_now.current_name as teacher_name,
    school_name_now.current_name as school_name,
    district_name_now.current_name as district_name,
    {{ student_context_average(averages, 'classroom', 'scores.{}') }} as classroom_avg_score,
    {{ student_context_average(averages, 'school_grade', 'scores.{}') }} as school_grade_avg_score,
    {{ student_context_average(averages, 'district_grade', 'scores.{}') }} as district_grade_avg_score
from scores
{{ current_name_joins('names', 'scores', ['teacher_name', 'school_name', 'district_name']) }}
