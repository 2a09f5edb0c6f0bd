{#-
    The fact rows again, sorted for "a teacher's students on a test" lookups:
    ORDER BY (school_year, teacher_id, test_id, student_id). Incremental like the fact table:
    a run replaces exactly the scores its new batches touched.
-#}
{%- set score_key = ['school_year', 'test_id', 'student_id'] -%}
{{ config(**incremental_by_batch(
    score_key,
    upstream='fct_student_scores',
    keys_sql="changed_score_keys('fct_student_scores')",
    order_by=['school_year', 'teacher_id', 'test_id', 'student_id'],
    column_codecs=per_score_column_codecs(),
)) }}

select
    school_year,
    teacher_id,
    test_id,
    student_id,
    district_id,
    school_id,
    state_id,
    subject,
    grade,
    test_date,
    overall_score,
    performance_level,
    dimension_scores,
    teacher_name,
    school_name,
    district_name
from {{ ref('fct_student_scores') }}
{% if is_incremental() -%}
    where {{ is_changed(score_key) }}
{%- endif %}
