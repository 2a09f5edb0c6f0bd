{#-
    Classroom report: one row per school year, teacher, test, subject, school and district.
    Incremental: a run deletes and recomputes exactly the classrooms its new batches touched
    (old and new classroom of a corrected score), from the fact table.
-#}
{%- set group_columns = ['school_year', 'teacher_id', 'test_id', 'subject', 'school_id', 'district_id'] -%}
{%- set upstream = 'fct_student_scores' -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        engine='MergeTree()',
        order_by='(school_year, teacher_id, test_id, subject, school_id, district_id)',
        partition_by='school_year',
        pre_hook=batch_recompute_pre_hooks(
            group_columns, "affected_groups(" ~ group_columns ~ ", '" ~ upstream ~ "')"
        ),
        post_hook=batch_recompute_post_hooks(upstream),
    )
}}

select
    {{ group_columns | join(',\n    ') }},
    {{ latest('state_id') }} as state_id,
    {{ latest('teacher_name') }} as teacher_name,
    {{ latest('school_name') }} as school_name,
    {{ latest('district_name') }} as district_name,
    {{ score_metrics() }}
from {{ ref('fct_student_scores') }}
{% if is_incremental() %}
    where {{ is_changed(group_columns) }}
{% endif %}
group by {{ group_columns | join(', ') }}
