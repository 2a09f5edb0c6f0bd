{#-
    District report by grade: one row per school year, state, district, test, subject and grade.
-#}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject', 'grade'] -%}
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

{{ aggregate_scores(group_columns, ['district_name']) }}
