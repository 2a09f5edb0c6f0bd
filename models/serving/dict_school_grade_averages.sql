-- School-by-grade averages, for the student-in-context lookups (mart_student_context).
{{ config(**dictionary_config(
    [('school_year', 'UInt16'), ('district_id', 'String'), ('school_id', 'String'), ('test_id', 'String'),
     ('subject', 'String'), ('grade', 'UInt8')],
    [('avg_score', 'Float64'), ('student_count', 'UInt64')],
)) }}

select
    school_year,
    district_id,
    school_id,
    test_id,
    subject,
    grade,
    avg_score,
    student_count
from {{ ref('agg_school_grade_scores') }}
