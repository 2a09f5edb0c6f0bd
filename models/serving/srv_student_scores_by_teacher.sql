{#-
    The fact rows again, sorted for "a teacher's students on a test" lookups:
    ORDER BY (school_year, teacher_id, test_id, student_id). Incremental like the fact table:
    a run replaces exactly the scores its new batches touched.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set score_key = ['school_year', 'test_id', 'student_id'] -%}
{{ config(
    materialized='batch_incremental',
    batch_upstream=['fct_student_scores'],
    batch_keys=score_key,
    order_by=['school_year', 'teacher_id', 'test_id', 'student_id'],
    partition_by='school_year',
    column_codecs=per_score_column_codecs(),
    **retention_config()
) }}

with

facts as (
    select * from {{ ref('fct_student_scores') }}
)

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
from facts
{% if is_incremental() -%}
    where {{ is_changed(score_key) }}
{%- endif %}
