{#-
    The fact rows again, sorted for "a teacher's students on a test" lookups:
    ORDER BY (school_year, teacher_id, test_id, student_id). Incremental like the fact table:
    a run replaces exactly the scores its new batches touched.
-#}
{%- set score_key = ['school_year', 'test_id', 'student_id'] -%}
{%- set upstream = 'fct_student_scores' -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        engine='MergeTree()',
        ttl=retention_ttl(),
        settings={'ttl_only_drop_parts': 1},
        order_by='(school_year, teacher_id, test_id, student_id)',
        partition_by='school_year',
        pre_hook=batch_recompute_pre_hooks(score_key, "changed_score_keys('" ~ upstream ~ "')"),
        post_hook=batch_recompute_post_hooks(upstream),
    )
}}

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
