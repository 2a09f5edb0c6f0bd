{#-
    Each student's score beside the classroom, school (same grade) and district (same grade)
    averages: the design's Query 4 without joins. Student rows come from a table sorted by
    teacher and test; the averages are dictionary lookups on the aggregate marts.
-#}
{{ config(materialized='view') }}

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
    scores.teacher_name as teacher_name,
    scores.school_name as school_name,
    scores.district_name as district_name,
    {{ dict_get('dict_classroom_averages', 'avg_score',
        ['scores.school_year', 'scores.teacher_id', 'toString(scores.test_id)', 'toString(scores.subject)',
         'scores.school_id', 'scores.district_id']) }} as classroom_avg_score,
    {{ dict_get('dict_school_grade_averages', 'avg_score',
        ['scores.school_year', 'scores.district_id', 'scores.school_id', 'toString(scores.test_id)',
         'toString(scores.subject)', 'scores.grade']) }} as school_grade_avg_score,
    {{ dict_get('dict_district_grade_averages', 'avg_score',
        ['scores.school_year', 'toString(scores.state_id)', 'scores.district_id', 'toString(scores.test_id)',
         'toString(scores.subject)', 'scores.grade']) }} as district_grade_avg_score
from {{ ref('int_student_scores_by_teacher') }} as scores
