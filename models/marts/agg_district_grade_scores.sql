{#-
    District report by grade: one row per school year, state, district, test, subject and grade.
-#}
-- depends_on: {{ ref('int_score_changes') }}
{%- set group_columns = ['school_year', 'state_id', 'district_id', 'test_id', 'subject', 'grade'] -%}
{{ config(
    materialized='batch_incremental',
    batch_upstream=['int_score_distributions', 'int_current_names'],
    batch_keys=group_columns,
    publish='partitions',
    names=['district_name'],
    order_by=group_columns,
    partition_by='school_year',
    ttl=retention_ttl(),
    settings={'ttl_only_drop_parts': 1},
) }}

{{ aggregate_scores(
    ref('int_score_distributions'), ref('int_current_names'), ref('score_bands'), group_columns, ['district_name']
) }}
