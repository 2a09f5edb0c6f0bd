{#-
    Classroom report: one row per school year, teacher, test, subject, school and district.
    Incremental: a run recomputes exactly the classrooms its new batches touched (the old and the
    new classroom of a corrected score), from the section histograms.
-#}
{%- set group_columns = ['school_year', 'teacher_id', 'test_id', 'subject', 'school_id', 'district_id'] -%}
{%- set upstream = 'int_score_distributions' -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        engine='MergeTree()',
        ttl=retention_ttl(),
        settings={'ttl_only_drop_parts': 1},
        order_by='(' ~ group_columns | join(', ') ~ ')',
        partition_by='school_year',
        pre_hook=batch_recompute_pre_hooks(group_columns, "affected_groups(" ~ group_columns ~ ", '" ~ upstream ~ "')"),
        post_hook=batch_recompute_post_hooks(upstream),
    )
}}

{{ aggregate_scores(group_columns, ['state_id', 'teacher_name', 'school_name', 'district_name']) }}
